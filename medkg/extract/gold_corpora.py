"""Entity corpora as gold documents: mention TSVs beside a text folder, and BRAT folders.

The Spanish clinical-case corpora of the Barcelona Supercomputing Center come in two layouts:

- mention TSVs (DisTEMIST, SympTEMIST, MedProcNER): a header ``filename, mark|ann_id, label, off0|start_span,
  off1|end_span, span|text`` (more columns, such as a SNOMED CT ``code``, may follow), one row per mention,
  and the texts as ``<filename>.txt`` in a ``txt/`` or ``text_files/`` folder next to the TSV's folder (or in
  it). DisTEMIST's TSV names ``es-S….txt`` files that are stored as ``S….txt`` too: both are tried. Several
  TSVs over the same texts (MedProcNER's subtask 1 mentions and subtask 2 codes) are merged: one mention per
  type and span, codes united.
- BRAT folders (PharmaCoNER, CANTEMIST, and SympTEMIST/MedProcNER's ``brat/``): ``.txt`` + ``.ann`` pairs.

    documents = read_entity_corpus(Path("../shared/data/clinical_annotation/spanish_ner/distemist"))
    train, dev = split_by_document(documents)   # fixed: by a hash of each document id

A row whose offsets do not give its text, or that names a text that is not there, is an error naming the TSV
and its line; nothing is half-read.
"""
from __future__ import annotations

import csv
import hashlib
import re
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

from medkg.errors import MedkgError
from medkg.extract.brat import read_brat
from medkg.extract.records import Document, GoldDocument, GoldMention, merge_same_span
from medkg.extract.text_files import read_text_exactly

_ID_COLUMNS = ("mark", "ann_id")
_START_COLUMNS = ("off0", "start_span")
_END_COLUMNS = ("off1", "end_span")
_TEXT_COLUMNS = ("span", "text")
_TEXT_FOLDERS = ("txt", "text_files")
_CODE_COLUMNS = {"code": "SCTID", "mesh_code": "MESH", "icd10_code": "ICD10", "hpo_code": "HP"}
DEV_SHARE = 0.15  # of each corpus's documents, held out by document id


def is_mention_tsv(path: Path) -> bool:
    """A TSV whose header names a file, a label and start/end offsets."""
    try:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            header = handle.readline().rstrip("\r\n").split("\t")
    except (OSError, UnicodeDecodeError):
        return False
    return ("filename" in header and "label" in header and any(c in header for c in _START_COLUMNS)
            and any(c in header for c in _END_COLUMNS))


def _column(header: list[str], names: Sequence[str], path: Path) -> int:
    for name in names:
        if name in header:
            return header.index(name)
    raise MedkgError(f"no {' or '.join(names)} column in the header", path=path, line=1)


def _text_folder(tsv: Path) -> Path:
    for base in (tsv.parent, tsv.parent.parent):
        for name in _TEXT_FOLDERS:
            if (base / name).is_dir():
                return base / name
    raise MedkgError(f"no text folder ({' or '.join(_TEXT_FOLDERS)}/) beside the mention TSV", path=tsv)


def read_mention_tsv(tsv: Path, lang: str = "es") -> list[GoldDocument]:
    """The documents a mention TSV annotates (each with every mention the TSV gives it)."""
    tsv = Path(tsv)
    folder = _text_folder(tsv)
    texts: dict[str, Document] = {}
    mentions: dict[str, list[GoldMention]] = defaultdict(list)
    with tsv.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")  # some rows quote a span that holds quotes
        header = next(rows, [])
        name_at, label_at = header.index("filename"), header.index("label")
        start_at, end_at = _column(header, _START_COLUMNS, tsv), _column(header, _END_COLUMNS, tsv)
        text_at = _column(header, _TEXT_COLUMNS, tsv)
        # SNOMED CT codes, and DisTEMIST's cross-mappings to MeSH, ICD-10 and HPO (scored through xrefs).
        code_columns = [(prefix, header.index(column)) for column, prefix in _CODE_COLUMNS.items()
                        if column in header]
        for line, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < len(header):
                raise MedkgError(f"{len(row)} columns, the header has {len(header)}", path=tsv, line=line)
            name = row[name_at].strip()
            document = texts.get(name) or _read_text(folder, name, lang, tsv, line)
            texts[name] = document
            try:
                start, end = int(row[start_at]), int(row[end_at])
            except ValueError:
                raise MedkgError(f"offsets {row[start_at]!r} {row[end_at]!r} are not integers", path=tsv,
                                 line=line) from None
            if not 0 <= start < end <= len(document.text):
                raise MedkgError(f"offsets {start}-{end} outside {name}.txt ({len(document.text)} characters)",
                                 path=tsv, line=line)
            surface = document.text[start:end]
            if surface != row[text_at] and _squash(surface) != _squash(row[text_at]):
                raise MedkgError(f"{name}.txt has {surface!r} at {start}-{end}, the row says {row[text_at]!r}",
                                 path=tsv, line=line)
            codes = tuple(f"{prefix}:{row[at].strip()}" for prefix, at in code_columns
                          if row[at].strip() and row[at].strip().upper() not in ("NOMAP", "NONE", "NO_CODE"))
            mentions[document.id].append(GoldMention(document.id, ((start, end),), surface, row[label_at].strip(),
                                                     codes))
    return [GoldDocument(doc, mentions[doc.id]) for doc in texts.values()]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _read_text(folder: Path, name: str, lang: str, tsv: Path, line: int) -> Document:
    candidates = [folder / f"{name}.txt"]
    if name.startswith("es-"):
        candidates.append(folder / f"{name[3:]}.txt")
    for path in candidates:
        if path.is_file():
            return Document(id=name, text=read_text_exactly(path), lang=lang, path=path)
    raise MedkgError(f"the row names {name}.txt, which is not in {folder}", path=tsv, line=line)


def read_brat_folder(folder: Path, lang: str = "es", mismatches: list[MedkgError] | None = None
                     ) -> list[GoldDocument]:
    """Every ``.txt`` with an ``.ann`` beside it, in name order. Mentions whose text disagrees with the
    ``.txt`` go to `mismatches` when it is given (else they are errors)."""
    documents = []
    for txt in sorted(Path(folder).glob("*.txt")):
        if txt.with_suffix(".ann").exists():
            document, mentions = read_brat(txt, lang=lang, mismatches=mismatches)
            documents.append(GoldDocument(document, mentions))
    return documents


def read_entity_corpus(path: Path, lang: str = "es", mismatches: list[MedkgError] | None = None
                       ) -> list[GoldDocument]:
    """A corpus folder (or one TSV): its mention TSVs when it has them, else its BRAT folders; documents
    annotated by several files are merged. BRAT mentions whose text disagrees with the .txt (PharmaCoNER has
    five) are left out and listed in `mismatches`, when given."""
    path = Path(path)
    if path.is_file():
        return read_mention_tsv(path, lang)
    tsvs = sorted(p for p in path.rglob("*.tsv") if is_mention_tsv(p) and not p.stem.endswith("_translated"))
    documents: list[GoldDocument] = []
    if tsvs:
        for tsv in tsvs:
            documents.extend(read_mention_tsv(tsv, lang))
    else:
        for folder in sorted({ann.parent for ann in path.rglob("*.ann")}):
            documents.extend(read_brat_folder(folder, lang, mismatches))
    if not documents:
        raise MedkgError("no mention TSV (filename, label, offsets) and no BRAT .ann files here", path=path)
    return merge_documents(documents)


def merge_documents(documents: Iterable[GoldDocument]) -> list[GoldDocument]:
    """One document per id; mentions of the same type and span merged, their codes united."""
    by_id: dict[str, GoldDocument] = {}
    for gold in documents:
        kept = by_id.get(gold.document.id)
        if kept is None:
            by_id[gold.document.id] = GoldDocument(gold.document, list(gold.mentions))
        else:
            kept.mentions.extend(gold.mentions)
    return [GoldDocument(g.document, merge_same_span(g.mentions)) for g in by_id.values()]


def is_dev_document(doc_id: str, share: float = DEV_SHARE) -> bool:
    """A fixed held-out split: the document's id hashed, so it never changes between runs or machines."""
    digest = hashlib.sha256(doc_id.removeprefix("es-").encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < share


def split_by_document(documents: Sequence[GoldDocument], share: float = DEV_SHARE
                      ) -> tuple[list[GoldDocument], list[GoldDocument]]:
    train = [g for g in documents if not is_dev_document(g.document.id, share)]
    dev = [g for g in documents if is_dev_document(g.document.id, share)]
    return train, dev


def shingles(text: str, size: int = 8) -> set[int]:
    words = re.findall(r"\w+", text.lower())
    return {hash(" ".join(words[i:i + size])) for i in range(max(0, len(words) - size + 1))}


def overlapping(documents: Sequence[GoldDocument], others: Sequence[Document], share: float = 0.3,
                size: int = 8) -> set[str]:
    """Ids of `documents` that share at least `share` of their 8-word shingles with one of `others` (the
    same clinical case in another corpus, whatever its file name)."""
    index: dict[int, set[int]] = defaultdict(set)
    sizes = []
    for n, other in enumerate(others):
        own_shingles = shingles(other.text, size)
        sizes.append(len(own_shingles))
        for shingle in own_shingles:
            index[shingle].add(n)
    found = set()
    for gold in documents:
        own = shingles(gold.document.text, size)
        if not own:
            continue
        hits: dict[int, int] = defaultdict(int)
        for shingle in own:
            for n in index.get(shingle, ()):
                hits[n] += 1
        # Either text may be an excerpt of the other: the share is of the shorter one.
        if any(count >= share * min(len(own), sizes[n]) for n, count in hits.items()):
            found.add(gold.document.id)
    return found
