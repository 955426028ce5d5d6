"""Gold standards to score annotations against: E3C Layer 1 (UIMA CAS XMI) and CodiEsp (CodiEsp-X TSV); entity
corpora (mention TSVs, BRAT folders) through `medkg.extract.gold_corpora`.

Both readers return `GoldDocument`s whose offsets are Python ``str`` indices into `Document.text` (see
`medkg.extract.records`), so ``doc.text[m.start:m.end] == m.text`` for every mention with one span, and
codes are normalised ``PREFIX:LOCAL`` strings (`medkg.kg.namespaces.normalize_xref`).

E3C (WebAnno XMI export)
    The text is ``cas:Sofa/@sofaString``; annotations are ``custom:<LAYER>`` elements (namespace
    ``http:///webanno/custom.ecore``) with ``begin``/``end``. UIMA offsets count UTF-16 code units (Java
    ``char``s); they are converted to code-point indices when the text has characters outside the BMP (the
    E3C Layer 1 training files have none, so there the offsets are used as they are). ``&#13;`` and ``&#10;``
    in the attribute are decoded by the XML parser, so ``\\r\\n`` texts keep their offsets.

    ``CLINENTITY`` carries a UMLS CUI in ``entityID`` (or ``CUI-LESS`` / ``CUILESS``, sometimes with the
    English concept's CUI in ``entityIDEN``). Quirks of the export, handled here:

    - A discontinuous entity is one element over the whole stretch (``"periorbital and facial oedema"``) with
      ``discontinuous="DISCONTINUOUS"``: it is read as one span (the fragments are not in the file) with
      ``attributes["discontinuous"] = "true"``.
    - Some elements have a CUI in ``discontinuous`` and no ``entityID`` (a CUI typed in the wrong field):
      that CUI is taken as the code (``attributes["cui_source"] = "discontinuous"``); such entities are not
      discontinuous.
    - An ``entityID`` with trailing junk (``C0042963x``) keeps its CUI; the raw value is kept in
      ``attributes["entityID"]``, as is every value that is not a plain CUI (``CUI-LESS``, ``CUILESS``).
    - ``entityIDEN`` becomes ``attributes["cui_en"]`` (``UMLS:C…``), ``xtra`` becomes ``attributes["note"]``;
      neither is a gold code.

Elements of one layer with the same span are merged into one mention (codes and attributes united), so a
prediction is never asked to match the same span twice.

CodiEsp
    A split folder holds ``text_files/*.txt`` (Spanish, one clinical case per file, id = file stem) and
    ``<split>X.tsv``: ``articleID, DIAGNOSTICO|PROCEDIMIENTO, code, mention, "start end[;start end…]"``.
    Diagnoses become ``ICD10CM:R50.9``, procedures ``ICD10PCS:BW03ZZZ`` (upper case). Rows of one article
    with the same label and the same offsets (one mention coded twice) are merged into one mention with
    several codes. Fragments are kept in the order the file gives them (the mention text follows that
    order); zero-length fragments (``752 767;1320 1320;1320 1335``) are dropped. A mention's `text` is
    always the document's text at its fragments (joined by one space, the BRAT convention); where that
    differs from the TSV's mention (for a merged mention: any of its rows'), the mention keeps the TSV's in
    ``attributes["mention"]`` and has ``attributes["offset_mismatch"] = "true"``. Mismatches are counted
    and logged, not raised; malformed lines raise `MedkgError` with file and line.
    ``text_files_en`` (machine translations, no offsets) is not read.
"""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from medkg.errors import MedkgError
from medkg.extract.gold_corpora import is_mention_tsv, read_entity_corpus, read_mention_tsv
from medkg.extract.records import Document, GoldDocument, GoldMention, merge_same_span, mention_order
from medkg.extract.text_files import read_text_exactly
from medkg.kg.namespaces import normalize_xref

log = logging.getLogger("medkg.extract.gold")

CUSTOM_NS = "http:///webanno/custom.ecore"
XMI_ID = "{http://www.omg.org/XMI}id"
E3C_LAYERS = ("CLINENTITY", "EVENT", "TIMEX3", "BODYPART", "ACTOR", "RML")
E3C_LANGS = {"english": "en", "italian": "it", "spanish": "es", "french": "fr", "basque": "eu"}
# EVENT attributes copied onto a CLINENTITY with the same span.
EVENT_ATTRIBUTES = ("polarity", "contextualModality", "docTimeRel")
# Features that point at other annotations (xmi:id lists), not values: left out of attributes.
_REFERENCE_FEATURES = {"TLINK", "ALINK", "timexLink", "PERTAINSTO", "medEntID"}
_STRUCTURAL = {"begin", "end", "sofa", XMI_ID}
_CUI = re.compile(r"^(C\d{7})")

CODIESP_LABELS = {"DIAGNOSTICO": "ICD10CM", "PROCEDIMIENTO": "ICD10PCS"}
_CODIESP_CODE = re.compile(r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)?$")
_CODIESP_FRAGMENT = re.compile(r"^\s*(\d+)\s+(\d+)\s*$")


# ----------------------------------------------------------------------------------------------------- E3C


def read_e3c_xmi(path: Path, lang: str | None = None, layers: Sequence[str] = ("CLINENTITY",),
                 event_match: str = "same_span") -> GoldDocument:
    """One E3C Layer 1 XMI file as a gold document (id = file stem).

    Each element of the named `layers` becomes a `GoldMention` of that type (``"CLINENTITY"``, ``"EVENT"``,
    …). CLINENTITY mentions carry ``("UMLS:C…",)`` as codes, or ``()`` when CUI-LESS (see the module
    docstring for the export's quirks). Their ``polarity``, ``contextualModality`` and ``docTimeRel``
    attributes are copied from an EVENT element with exactly the same span, if there is one
    (``attributes["event_span"] = "same"``); CLINENTITY mentions without such an EVENT have no polarity.
    With ``event_match="contained"``, a CLINENTITY without a same-span EVENT takes them from the one EVENT
    inside its span when there is exactly one (``attributes["event_span"] = "inside"``) — E3C marks events
    on head words, so this covers more entities (e.g. the EVENT "puffiness" in "facial puffiness").
    Mentions of other layers carry the element's own features as attributes (references to other
    annotations left out).

    `lang`: the document language; by default from the folder name (English/Italian/Spanish → en/it/es),
    else from the id prefix (``EN100017`` → en).
    """
    path = Path(path)
    if isinstance(layers, str):
        layers = (layers,)
    unknown = [layer for layer in layers if layer not in E3C_LAYERS]
    if unknown:
        raise MedkgError(f"unknown E3C layer(s) {', '.join(unknown)}; known: {', '.join(E3C_LAYERS)}",
                         path=path)
    if event_match not in ("same_span", "contained"):
        raise MedkgError(f"event_match must be 'same_span' or 'contained', not {event_match!r}")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, column = exc.position
        raise MedkgError(f"not well-formed XML: {exc}", path=path, line=line, column=column) from None
    except OSError as exc:
        raise MedkgError(f"cannot read: {exc.strerror or exc}", path=path) from None

    sofas = [e for e in root if e.tag.rsplit("}", 1)[-1] == "Sofa" and e.get("sofaString") is not None]
    if not sofas:
        raise MedkgError("no cas:Sofa with a sofaString: not a UIMA CAS XMI file", path=path)
    sofa = next((s for s in sofas if s.get("sofaID") == "_InitialView"), sofas[0])
    text = sofa.get("sofaString")
    sofa_id = sofa.get(XMI_ID)
    to_index = _utf16_offsets(text)

    def spans_of(tag: str) -> list[tuple[int, int, ET.Element]]:
        found = []
        for element in root.iter(f"{{{CUSTOM_NS}}}{tag}"):
            if sofa_id is not None and element.get("sofa") not in (None, sofa_id):
                continue
            ident = element.get(XMI_ID)
            try:
                begin, end = int(element.get("begin")), int(element.get("end"))
            except (TypeError, ValueError):
                raise MedkgError(f"{tag} xmi:id={ident} has no integer begin/end", path=path) from None
            if not 0 <= begin <= end < len(to_index):
                raise MedkgError(f"{tag} xmi:id={ident}: span {begin}-{end} is outside the text "
                                 f"({len(to_index) - 1} UTF-16 units)", path=path)
            found.append((to_index[begin], to_index[end], element))
        return found

    doc_id = path.stem
    document = Document(id=doc_id, text=text, lang=lang or _e3c_lang(path, root), path=path)
    events = spans_of("EVENT") if "CLINENTITY" in layers else []
    event_at: dict[tuple[int, int], ET.Element] = {}
    for begin, end, element in events:
        event_at.setdefault((begin, end), element)

    mentions: list[GoldMention] = []
    for layer in layers:
        for begin, end, element in spans_of(layer):
            if layer == "CLINENTITY":
                codes, attributes = _clinentity(element)
                event, where = event_at.get((begin, end)), "same"
                if event is None and event_match == "contained":
                    inside = [e for b, en, e in events if begin <= b and en <= end]
                    event, where = (inside[0], "inside") if len(inside) == 1 else (None, "")
                if event is not None:
                    for name in EVENT_ATTRIBUTES:
                        if event.get(name):
                            attributes[name] = event.get(name)
                    attributes["event_span"] = where
            else:
                codes = ()
                attributes = {k: v for k, v in element.attrib.items()
                              if k not in _STRUCTURAL and k not in _REFERENCE_FEATURES and not k.startswith("{")}
            mentions.append(GoldMention(doc_id=doc_id, spans=((begin, end),), text=text[begin:end], type=layer,
                                        codes=codes, attributes=attributes))
    return GoldDocument(document, merge_same_span(mentions))


def _clinentity(element: ET.Element) -> tuple[tuple[str, ...], dict[str, str]]:
    attributes: dict[str, str] = {}
    codes: list[str] = []
    entity_id = (element.get("entityID") or "").strip()
    discontinuous = (element.get("discontinuous") or "").strip()
    match = _CUI.match(entity_id)
    if match:
        codes.append(normalize_xref(f"UMLS:{match.group(1)}"))
    if entity_id and entity_id != (match.group(1) if match else None):
        attributes["entityID"] = entity_id
    if discontinuous.upper() == "DISCONTINUOUS":
        attributes["discontinuous"] = "true"
    elif discontinuous:
        misplaced = _CUI.match(discontinuous)
        if misplaced and not entity_id:
            codes.append(normalize_xref(f"UMLS:{misplaced.group(1)}"))
            attributes["cui_source"] = "discontinuous"
        else:
            attributes["discontinuous_feature"] = discontinuous
    english = _CUI.match((element.get("entityIDEN") or "").strip())
    if english:
        attributes["cui_en"] = normalize_xref(f"UMLS:{english.group(1)}")
    if element.get("xtra"):
        attributes["note"] = element.get("xtra")
    return tuple(codes), attributes


def _utf16_offsets(text: str) -> list[int]:
    """index[u] = the code-point index of UTF-16 offset u (an offset inside a surrogate pair rounds down)."""
    if all(ord(ch) <= 0xFFFF for ch in text):
        return range(len(text) + 1)  # type: ignore[return-value]
    index: list[int] = []
    for i, ch in enumerate(text):
        index.append(i)
        if ord(ch) > 0xFFFF:
            index.append(i)
    index.append(len(text))
    return index


def _e3c_lang(path: Path, root: ET.Element) -> str | None:
    by_folder = E3C_LANGS.get(path.parent.name.lower())
    if by_folder:
        return by_folder
    prefix = path.stem[:2].lower()
    if prefix in E3C_LANGS.values():
        return prefix
    for element in root:
        language = element.get("language")
        if element.tag.endswith("DocumentMetaData") and language and language != "x-unspecified":
            return language
    return None


def read_e3c_folder(folder: Path, lang: str | None = None, split_file: Path | None = None,
                    layers: Sequence[str] = ("CLINENTITY",)) -> list[GoldDocument]:
    """Every XMI file of an E3C language folder (``layer1_xmi/English``), or of each language folder under
    a parent (``layer1_xmi``), in file-name order. The language comes from the folder name unless `lang`
    is given. `split_file` (E3C's ``train_test_split.txt``) keeps only the documents it lists (the
    official training split)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MedkgError("not a folder", path=folder)
    files = _xmi_files(folder)
    if not files:
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            files.extend(_xmi_files(sub))
    if not files:
        raise MedkgError("no E3C .xml/.xmi files here or in its language folders", path=folder)
    if split_file is not None:
        keep = _split_ids(Path(split_file))
        files = [f for f in files if f.stem in keep]
    return [read_e3c_xmi(f, lang, layers) for f in files]


def _xmi_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".xml", ".xmi"))


def _split_ids(split_file: Path) -> set[str]:
    try:
        content = split_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise MedkgError(f"cannot read: {exc.strerror or exc}", path=split_file) from None
    ids = set(re.findall(r"'([A-Za-z]{2}\d+)'", content))
    if not ids:
        raise MedkgError("no document ids ('EN100017', …) in this split file", path=split_file)
    return ids


# ------------------------------------------------------------------------------------------------- CodiEsp


def read_codiesp(split_dir: Path, limit: int | None = None) -> list[GoldDocument]:
    """A CodiEsp split folder (``train``, ``dev``): its Spanish texts and the CodiEsp-X mentions, one
    document per text file (id = article id = file stem, sorted; the first `limit` only if given)."""
    split_dir = Path(split_dir)
    tsv = _codiesp_tsv(split_dir)
    text_dir = split_dir / "text_files"
    if not text_dir.is_dir():
        raise MedkgError("a CodiEsp split folder needs a text_files/ folder", path=split_dir)
    all_files = sorted(p for p in text_dir.glob("*.txt") if p.is_file())
    if not all_files:
        raise MedkgError("no .txt files", path=text_dir)
    known = {p.stem for p in all_files}
    files = all_files[:limit] if limit is not None else all_files
    documents = {p.stem: Document(id=p.stem, text=read_text_exactly(p), lang="es", path=p) for p in files}

    grouped: dict[tuple[str, str, tuple[tuple[int, int], ...]], dict] = {}
    missing_text: Counter[str] = Counter()
    mismatches = rows = 0
    for number, line in _lines(tsv):
        fields = line.split("\t")
        if len(fields) != 5:
            raise MedkgError(f"expected 5 tab-separated fields (articleID, label, code, mention, offsets), "
                             f"found {len(fields)}", path=tsv, line=number)
        article, label, code, mention, offsets = (f.strip() if i != 3 else f for i, f in enumerate(fields))
        if not article:
            raise MedkgError("empty articleID", path=tsv, line=number)
        if label not in CODIESP_LABELS:
            raise MedkgError(f"label {label!r} is neither DIAGNOSTICO nor PROCEDIMIENTO", path=tsv, line=number)
        if not _CODIESP_CODE.match(code):
            raise MedkgError(f"malformed ICD-10 code {code!r}", path=tsv, line=number)
        spans = _codiesp_spans(offsets, tsv, number)
        if article not in documents:
            if article not in known:
                missing_text[article] += 1
            continue
        rows += 1
        key = (article, label, spans)
        entry = grouped.get(key)
        normalised = normalize_xref(f"{CODIESP_LABELS[label]}:{code.upper()}")
        if entry is None:
            grouped[key] = {"mentions": [mention], "codes": [normalised]}
            continue
        if mention not in entry["mentions"]:
            entry["mentions"].append(mention)
        if normalised not in entry["codes"]:
            entry["codes"].append(normalised)

    mentions: dict[str, list[GoldMention]] = {doc_id: [] for doc_id in documents}
    for (article, label, spans), entry in grouped.items():
        text = documents[article].text
        kept = tuple(s for s in spans if s[1] > s[0]) or spans
        found = " ".join(text[s:e] for s, e in kept)
        attributes: dict[str, str] = {}
        as_given = " ".join(text[s:e] for s, e in spans)  # with any empty fragments, as the TSV joins them
        disagree = [m for m in entry["mentions"] if m not in (found, as_given)]
        if disagree or any(e > len(text) for _, e in kept):
            attributes = {"mention": (disagree or entry["mentions"])[0], "offset_mismatch": "true"}
            mismatches += 1
        mentions[article].append(GoldMention(doc_id=article, spans=kept, text=found, type=label,
                                             codes=tuple(entry["codes"]), attributes=attributes))
    if missing_text:
        log.warning("%s: %d rows name %d articles with no text file in %s (skipped)", tsv,
                    sum(missing_text.values()), len(missing_text), text_dir)
    if mismatches:
        log.warning("%s: %d of %d mentions do not match the text at their offsets (kept, marked "
                    "offset_mismatch)", tsv, mismatches, len(grouped))
    log.debug("%s: %d rows, %d mentions, %d documents", tsv, rows, len(grouped), len(documents))
    return [GoldDocument(documents[doc_id], sorted(found, key=mention_order))
            for doc_id, found in mentions.items()]


def _codiesp_tsv(split_dir: Path) -> Path:
    if not split_dir.is_dir():
        raise MedkgError("not a folder", path=split_dir)
    candidates = sorted(p for p in split_dir.glob("*X.tsv") if p.is_file())
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise MedkgError(f"a CodiEsp split folder needs exactly one <split>X.tsv (found: {found})",
                         path=split_dir)
    return candidates[0]


def _codiesp_spans(offsets: str, tsv: Path, number: int) -> tuple[tuple[int, int], ...]:
    spans = []
    for fragment in offsets.split(";"):
        match = _CODIESP_FRAGMENT.match(fragment)
        if not match:
            raise MedkgError(f"malformed offsets {offsets!r} (expected 'start end' or 'start end;start end')",
                             path=tsv, line=number)
        start, end = int(match.group(1)), int(match.group(2))
        if start > end:
            raise MedkgError(f"span {start} {end} ends before it starts", path=tsv, line=number)
        spans.append((start, end))
    return tuple(spans)


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    for number, raw in enumerate(read_text_exactly(path).split("\n"), start=1):
        line = raw.removesuffix("\r")
        if line.strip():
            yield number, line


# ------------------------------------------------------------------------------------------------- common


def read_gold(path: Path) -> list[GoldDocument]:
    """A gold standard by its layout: an E3C ``.xml``/``.xmi`` file, an E3C folder (a language folder of XMI
    files, or a folder of language folders), or a CodiEsp split folder (``<split>X.tsv`` + ``text_files/``)."""
    path = Path(path)
    if not path.exists():
        raise MedkgError("no such file or folder", path=path)
    if path.is_file():
        if path.suffix.lower() in (".xml", ".xmi"):
            return [read_e3c_xmi(path)]
        if path.suffix.lower() == ".tsv" and is_mention_tsv(path):
            return read_mention_tsv(path)
        raise MedkgError("not a gold standard: expected an E3C .xml/.xmi file, an E3C folder or a CodiEsp "
                         "split folder (<split>X.tsv + text_files/)", path=path)
    if any(path.glob("*X.tsv")) and (path / "text_files").is_dir():
        return read_codiesp(path)
    if _xmi_files(path) or any(_xmi_files(sub) for sub in path.iterdir() if sub.is_dir()):
        return read_e3c_folder(path)
    if any(is_mention_tsv(tsv) for tsv in path.rglob("*.tsv")) or any(path.rglob("*.ann")):
        mismatches: list[MedkgError] = []
        documents = read_entity_corpus(path, mismatches=mismatches)
        for mismatch in mismatches:  # upstream quirks (PharmaCoNER has five): the mention is left out, said here
            log.warning("left out: %s", mismatch)
        return documents
    splits = [sub.name for sub in sorted(path.iterdir()) if sub.is_dir() and any(sub.glob("*X.tsv"))]
    hint = f" (CodiEsp split folders inside: {', '.join(splits)}; name one)" if splits else ""
    raise MedkgError("not a gold standard: no E3C .xml/.xmi files and no CodiEsp <split>X.tsv with "
                     f"text_files/{hint}", path=path)


def summarize_gold(documents: Sequence[GoldDocument]) -> dict[str, dict[str, int]]:
    """Counts per language: documents, mentions, coded mentions, discontinuous mentions (several spans, or
    E3C's ``discontinuous`` flag) and mentions whose offsets disagree with the text (``offset_mismatch``)."""
    summary: dict[str, Counter] = {}
    for gold in documents:
        counts = summary.setdefault(gold.document.lang or "und", Counter())
        counts["documents"] += 1
        for mention in gold.mentions:
            counts["mentions"] += 1
            counts["coded"] += bool(mention.codes)
            counts["discontinuous"] += (len(mention.spans) > 1
                                        or mention.attributes.get("discontinuous") == "true")
            counts["multi_span"] += len(mention.spans) > 1
            counts["offset_mismatch"] += mention.attributes.get("offset_mismatch") == "true"
    keys = ("documents", "mentions", "coded", "discontinuous", "multi_span", "offset_mismatch")
    return {lang: {k: counts[k] for k in keys} for lang, counts in sorted(summary.items())}
