"""Typed records of annotation: documents in, concept annotations out, gold mentions to score against.

Offsets are Python string indices (Unicode code points) into `Document.text` exactly as read, so
`doc.text[a.start:a.end] == a.text` holds for every annotation and every gold mention with one span.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

# Assertion statuses, ConText-style. An annotation has one `status` (what a reader should take from it)
# and the set of all modifiers whose triggers fired; precedence when several fire, most specific first:
# family-history > hypothetical > negated > possible > historical.
ASSERTION_STATUSES = ("present", "negated", "possible", "historical", "family", "hypothetical")
STATUS_PRECEDENCE = ("family", "hypothetical", "negated", "possible", "historical")


@dataclass(frozen=True)
class Document:
    id: str                      # stable within a run: the file stem, or the id a reader found in the file
    text: str
    lang: str | None = None      # en / it / es / …; None = detect
    path: Path | None = None     # where it was read from, for error messages and resumability


@dataclass(frozen=True)
class Assertion:
    status: str = "present"                  # one of ASSERTION_STATUSES
    modifiers: frozenset[str] = frozenset()  # every status whose trigger fired (without "present")
    cues: tuple[str, ...] = ()               # the trigger phrases, as written in the text


@dataclass(frozen=True)
class ConceptLink:
    iri: str
    label: str                   # the label or synonym that matched
    score: float                 # cosine similarity in [0, 1]
    scheme: str | None = None    # the ontology it belongs to (its named graph or prefix, e.g. "DOID", "HP")
    xrefs: tuple[str, ...] = ()  # e.g. ("UMLS:C0041296", "ICD10CM:A15"), for scoring against gold codes


@dataclass(frozen=True)
class Annotation:
    doc_id: str
    start: int
    end: int
    text: str
    type: str                    # a concept type of the schema: "problem", "medication", …
    score: float                 # QA span score minus the no-answer score (> 0: the model prefers the span)
    lang: str
    question: str = ""           # the schema question that found it
    assertion: Assertion = field(default_factory=Assertion)
    links: tuple[ConceptLink, ...] = ()  # best first; empty = not linked
    source: str = "qa"           # "qa" (a QA answer), "dictionary" (a concept name in the graph), "qa+dictionary"

    @property
    def id(self) -> str:
        """Deterministic: the same span of the same document with the same type keeps its id across runs."""
        key = f"{self.doc_id}\x1f{self.start}\x1f{self.end}\x1f{self.type}"
        return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]

    @property
    def concept(self) -> ConceptLink | None:
        return self.links[0] if self.links else None


@dataclass(frozen=True)
class GoldMention:
    """A mention in a gold standard. Discontinuous mentions have several (start, end) spans."""

    doc_id: str
    spans: tuple[tuple[int, int], ...]
    text: str
    type: str                    # the gold set's own type: "CLINENTITY", "DIAGNOSTICO", "PROCEDIMIENTO", …
    codes: tuple[str, ...] = ()  # normalised codes: "UMLS:C0009081", "ICD10CM:R50.9", …
    attributes: dict[str, str] = field(default_factory=dict)  # e.g. E3C polarity / modality

    @property
    def start(self) -> int:
        return min(s for s, _ in self.spans)

    @property
    def end(self) -> int:
        return max(e for _, e in self.spans)


@dataclass
class GoldDocument:
    document: Document
    mentions: list[GoldMention] = field(default_factory=list)


def mention_order(mention: GoldMention) -> tuple:
    return (mention.start, mention.end, mention.type, mention.spans)


def merge_same_span(mentions: list[GoldMention]) -> list[GoldMention]:
    merged: dict[tuple, GoldMention] = {}
    for mention in mentions:
        key = (mention.type, mention.spans)
        first = merged.get(key)
        if first is None:
            merged[key] = mention
            continue
        codes = first.codes + tuple(c for c in mention.codes if c not in first.codes)
        merged[key] = GoldMention(first.doc_id, first.spans, first.text, first.type, codes,
                                  {**mention.attributes, **first.attributes})
    return sorted(merged.values(), key=mention_order)
