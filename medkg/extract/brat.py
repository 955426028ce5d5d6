"""BRAT standoff (https://brat.nlplab.org/standoff.html): reading `.txt` + `.ann` pairs into gold mentions.

The writer lives in `medkg.extract.export`; the conventions both sides share are here:

- Offsets are Python ``str`` indices over the ``.txt`` read as UTF-8 with ``newline=""`` (no newline
  translation), so a ``\\r\\n`` file keeps its offsets.
- A span that crosses a line break is written as fragments ``start end;start end`` split at the break, and
  its text is the fragments' texts joined by one space (BRAT's own convention for discontinuous spans).
- ``N`` (normalisation) lines carry ``DB:ID`` references; read back they become normalised codes
  (``UMLS_CUI:C0009081`` -> ``UMLS:C0009081``, see `medkg.kg.namespaces.normalize_xref`); a reference that is a
  full ``http(s)://`` IRI is kept as that IRI.
- ``A`` / ``M`` (attribute) lines become ``GoldMention.attributes`` (a binary attribute reads ``"true"``), and
  an ``AnnotatorNotes`` comment (``#`` line) becomes ``attributes["AnnotatorNotes"]``.
- Relations (``R``), events (``E``) and equivalences (``*``) are valid BRAT but not mentions: skipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from medkg.errors import MedkgError
from medkg.extract.records import Document, GoldMention
from medkg.extract.text_files import read_text_exactly
from medkg.kg.namespaces import ICD10, OBO, WD, normalize_xref

LINE_BREAKS = "\r\n"
_ID = re.compile(r"^[A-Za-z#*][A-Za-z0-9_#*.\-]*$")
_TEXTBOUND_ID = re.compile(r"^T\d+$")
_FRAGMENT = re.compile(r"^(\d+) (\d+)$")
# BRAT type and attribute names: no whitespace (they are separated by spaces on the line).
_NAME = re.compile(r"^\S+$")


def fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The BRAT fragments of ``text[start:end]``: the span split at line breaks, empty pieces dropped."""
    pieces: list[tuple[int, int]] = []
    piece_start = start
    for i in range(start, end):
        if text[i] in LINE_BREAKS:
            if i > piece_start:
                pieces.append((piece_start, i))
            piece_start = i + 1
    if end > piece_start:
        pieces.append((piece_start, end))
    return pieces


def fragments_text(text: str, spans: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> str:
    """The text BRAT records for a (possibly discontinuous) span: the fragments joined by one space."""
    return " ".join(text[s:e] for s, e in spans)


def compact_id(iri: str) -> str:
    """A BRAT ``DB:ID`` reference for a concept IRI: OBO PURLs as their CURIE (``obo/DOID_1234`` -> ``DOID:1234``),
    Wikidata items as ``WD:Q…``, WHO ICD-10 as ``ICD10:…``; any other IRI unchanged."""
    if iri.startswith(OBO):
        local = iri[len(OBO):]
        prefix, sep, rest = local.partition("_")
        if sep and prefix and rest and "/" not in local and "#" not in local:
            return f"{prefix}:{rest}"
        return iri
    for base, db in ((WD, "WD"), (ICD10, "ICD10")):
        if iri.startswith(base):
            local = iri[len(base):]
            if local and "/" not in local and "#" not in local:
                return f"{db}:{local}"
    return iri


def normalise_reference(reference: str) -> str:
    """An ``N`` line's reference as a code: ``UMLS_CUI:C0009081`` -> ``UMLS:C0009081``; full IRIs kept."""
    if reference.startswith(("http://", "https://")):
        return reference
    return normalize_xref(reference) or reference


@dataclass
class _Textbound:
    id: str
    type: str
    spans: tuple[tuple[int, int], ...]
    text: str
    line: int
    codes: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)


class TextMismatch(MedkgError):
    """A T line whose text is not the .txt's text at its offsets."""


def read_brat(txt_path: Path, *, lang: str | None = None,
              mismatches: list[MedkgError] | None = None) -> tuple[Document, list[GoldMention]]:
    """A BRAT document: its ``.txt`` (exactly as stored) and the mentions of the sibling ``.ann``, if any.

    The document id is the file stem. Mentions come in the order of their ``T`` lines. A malformed line, a
    reference to an undefined ``T`` id, or a ``T`` line whose text disagrees with the ``.txt`` at its offsets
    raises `MedkgError` naming the ``.ann`` file and line. With a `mismatches` list, a ``T`` line whose text
    disagrees is left out and its error appended there instead (upstream corpora have a few such lines).
    """
    txt_path = Path(txt_path)
    text = read_text_exactly(txt_path)
    document = Document(id=txt_path.stem, text=text, lang=lang, path=txt_path)
    ann_path = txt_path.with_suffix(".ann")
    if not ann_path.exists():
        return document, []
    return document, parse_ann(read_text_exactly(ann_path), document, ann_path, mismatches)


def parse_ann(content: str, document: Document, ann_path: Path | None = None,
              mismatches: list[MedkgError] | None = None) -> list[GoldMention]:
    """The mentions of a ``.ann`` file's content over ``document.text`` (see `read_brat`)."""
    text = document.text
    dropped: set[str] = set()
    textbounds: dict[str, _Textbound] = {}
    pending: list[tuple[int, str, str, str]] = []  # (line, kind, target, payload) resolved after all T lines

    def fail(message: str, line: int) -> MedkgError:
        return MedkgError(message, path=ann_path, line=line)

    for number, raw in enumerate(content.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        head, sep, rest = line.partition("\t")
        if not sep or not _ID.match(head):
            raise fail(f"malformed line (expected an id, a tab and the annotation): {_shorten(line)!r}", number)
        kind = head[0]
        if kind == "T":
            try:
                tb = _parse_textbound(head, rest, text, number, fail)
            except TextMismatch as mismatch:
                if mismatches is None:
                    raise
                mismatches.append(mismatch)
                dropped.add(head)
                continue
            if tb.id in textbounds:
                raise fail(f"duplicate id {tb.id} (first on line {textbounds[tb.id].line})", number)
            textbounds[tb.id] = tb
        elif kind in "AM":
            fields = rest.split("\t", 1)[0].split(" ")
            if len(fields) not in (2, 3) or not all(fields):
                raise fail(f"malformed attribute line (expected 'Name T<n> [value]'): {_shorten(line)!r}",
                           number)
            value = fields[2] if len(fields) == 3 else "true"
            pending.append((number, "attribute", fields[1], f"{fields[0]}\x1f{value}"))
        elif kind == "N":
            parts = rest.split("\t", 1)
            fields = parts[0].split(" ")
            if len(fields) != 3 or not all(fields) or ":" not in fields[2]:
                raise fail("malformed normalisation line (expected 'Reference T<n> DB:ID<tab>label'): "
                           f"{_shorten(line)!r}", number)
            pending.append((number, "code", fields[1], normalise_reference(fields[2])))
        elif kind == "#":
            fields = rest.split("\t", 1)
            head_fields = fields[0].split(" ")
            if len(head_fields) == 2 and head_fields[0] == "AnnotatorNotes" and len(fields) == 2:
                pending.append((number, "note", head_fields[1], fields[1]))
            # other '#' lines are free-form comments
        elif kind in "RE*":
            continue  # relations, events, equivalences: valid BRAT, not mentions
        else:
            raise fail(f"unknown annotation kind {head!r}: {_shorten(line)!r}", number)

    for number, kind, target, payload in pending:
        tb = textbounds.get(target)
        if tb is None:
            if target in dropped:
                continue
            if _TEXTBOUND_ID.match(target):
                raise fail(f"{target} is not defined in this file", number)
            continue  # an attribute of an event or relation: not a mention's
        if kind == "code":
            if payload not in tb.codes:
                tb.codes.append(payload)
        elif kind == "attribute":
            name, _, value = payload.partition("\x1f")
            tb.attributes[name] = value
        else:
            previous = tb.attributes.get("AnnotatorNotes")
            tb.attributes["AnnotatorNotes"] = f"{previous}\n{payload}" if previous else payload

    return [GoldMention(doc_id=document.id, spans=tb.spans, text=tb.text, type=tb.type, codes=tuple(tb.codes),
                        attributes=tb.attributes) for tb in textbounds.values()]


def _parse_textbound(head: str, rest: str, text: str, number: int, fail) -> _Textbound:
    type_offsets, sep, span_text = rest.partition("\t")
    if not sep:
        raise fail(f"malformed text-bound line (expected 'Type start end<tab>text'): {head}\t{_shorten(rest)!r}",
                   number)
    entity_type, _, offsets = type_offsets.partition(" ")
    if not entity_type or not _NAME.match(entity_type) or not offsets:
        raise fail(f"malformed text-bound line (expected 'Type start end'): {_shorten(type_offsets)!r}", number)
    spans: list[tuple[int, int]] = []
    for fragment in offsets.split(";"):
        match = _FRAGMENT.match(fragment.strip())
        if not match:
            raise fail(f"malformed offsets {offsets!r} (expected 'start end' or 'start end;start end')", number)
        start, end = int(match.group(1)), int(match.group(2))
        if start > end:
            raise fail(f"span {start} {end} ends before it starts", number)
        if end > len(text):
            raise fail(f"span {start} {end} runs past the end of the text ({len(text)} characters)", number)
        spans.append((start, end))
    expected = fragments_text(text, spans)
    if span_text != expected:
        raise TextMismatch(f"{head}: text {_shorten(span_text)!r} does not match the .txt at {offsets} "
                   f"({_shorten(expected)!r})", path=fail("", number).path, line=number)
    return _Textbound(id=head, type=entity_type, spans=tuple(spans), text=span_text, line=number)


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
