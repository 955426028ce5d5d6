"""Annotation of one document: ask every schema question, add the graph's dictionary candidates, combine them
as the schema says per type, assess them, link them.

All questions of a document go to the QA model in one call, so its (question × window) features are batched
together; each question keeps up to `max_answers` non-overlapping spans whose margin over "no answer"
reaches the type's threshold. Answers that are explicit lists ("fiebre, tos y disnea") are split into their
items, because a clinical concept is one item. Within a type, overlapping spans keep the best one; the same
span claimed by two types goes to the type whose question scored it higher.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Callable, Iterable, Iterator

from medkg.extract.assertion import SUPPORTED_LANGUAGES, assess_many
from medkg.extract.dictionary import Dictionary
from medkg.extract.linker import ConceptIndex, abbreviations, scheme_of
from medkg.extract.records import Annotation, ConceptLink, Document
from medkg.extract.schema import Schema
from medkg.language import detect_language
from medkg.models.qa import ExtractiveQA, trim_span

# An explicit list: commas or semicolons, with a final conjunction in the document's languages.
# A comma or semicolon only separates items when a space follows ("38,2 °C" is one number).
_LIST_SEPARATOR = re.compile(r"\s*(?:[,;](?=\s)|\s(?:and|or|e|o|ed|y|u|ni|né)\s)\s*", re.IGNORECASE)
_LIST_MARK = re.compile(r"[,;]\s")
# A sentence end inside an answer ("…sin complicaciones. No se observa…") means it ran past its concept.
_SENTENCE_BREAK = re.compile(r"[.!?]\s+\S|\n")
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=16)
def _stop_words(lang: str) -> frozenset[str]:
    """spaCy's stop-word list for the language (empty when spaCy has none)."""
    try:
        from spacy.util import get_lang_class

        return frozenset(get_lang_class(lang).Defaults.stop_words)
    except (ImportError, KeyError):
        return frozenset()


def is_concept_like(answer: str, lang: str) -> bool:
    """False for answers no concept can be: only function words ("he", "had"), or more than one sentence."""
    if _SENTENCE_BREAK.search(answer):
        return False
    words = _WORD.findall(answer.lower())
    if any(ch.isdigit() for ch in answer):
        return bool(words)
    stop = _stop_words(lang)
    return any(len(w) > 2 and w not in stop for w in words)


def split_list(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Offsets of the items of an answer that is a list; the answer itself when it is not one."""
    answer = text[start:end]
    if not _LIST_MARK.search(answer):
        return [(start, end)]
    items, cursor = [], 0
    for separator in _LIST_SEPARATOR.finditer(answer):
        items.append((start + cursor, start + separator.start()))
        cursor = separator.end()
    items.append((start + cursor, end))
    trimmed = [trim_span(text, a, b) for a, b in items]
    return [(a, b) for a, b in trimmed if b - a >= 2]


_OPENERS, _CLOSERS = "([{", ")]}"


def balance_brackets(text: str, start: int, end: int) -> tuple[int, int]:
    """An answer cut inside a parenthesis ("infarto miocardico (padre") ends before the unclosed bracket; a
    stray closing one at either end ("diabetes)") is dropped. Balanced ones ("IMA (infarto)") stay."""
    depth, unclosed = 0, None
    for i in range(start, end):
        ch = text[i]
        if ch in _OPENERS:
            if depth == 0:
                unclosed = i
            depth += 1
        elif ch in _CLOSERS:
            if depth == 0:
                if i == start:
                    return balance_brackets(text, start + 1, end)
                if i == end - 1:
                    return trim_span(text, start, i)
            else:
                depth -= 1
    if depth > 0 and unclosed is not None:
        return trim_span(text, start, unclosed)
    return start, end


@dataclass
class Candidates:
    """Everything one QA pass found in a document, before the schema's combination rule picks from it:
    QA answers per type, and dictionary spans per type with the best margin any of the type's questions gave
    them (so evaluation can try every combination on one pass)."""
    doc: Document
    lang: str
    answers: list[Annotation] = field(default_factory=list)
    dictionary: list[tuple[Annotation, tuple[int, ...]]] = field(default_factory=list)  # (span, concept indices)


@dataclass
class Annotator:
    """Schema questions (and graph-dictionary candidates) → annotations with assertion status and links.

        annotator = Annotator(ExtractiveQA.load(), load_schema(), concept_index(store, home))
        for a in annotator.annotate(Document("n1", "Paziente con polmonite, febbre.", "it")):
            print(a.type, a.text, a.source, a.concept and a.concept.iri)
    """
    qa: ExtractiveQA
    schema: Schema
    index: ConceptIndex | None = None     # None: no linking, no dictionary candidates
    lang: str = "auto"
    link_k: int = 3
    expand_abbreviations: bool = True
    batch_size: int | None = None        # windows per forward pass; None: the QA model's default
    use_dictionary: bool = True          # False: QA answers only, whatever the schema says
    stats: dict[str, int] = field(default_factory=lambda: {"documents": 0, "questions": 0, "answers": 0})

    @cached_property
    def dictionary(self) -> Dictionary | None:
        wanted = any(t.dictionary for t in self.schema.types)
        return Dictionary.build(self.index) if wanted and self.index is not None and self.use_dictionary else None

    def annotate(self, doc: Document, combine: str | None = None) -> list[Annotation]:
        """`combine` overrides every type's combination rule (qa, dictionary, union, confirm) for this call."""
        candidates = self.candidates(doc)
        return self.finish(candidates, combine) if candidates is not None else []

    def candidates(self, doc: Document) -> Candidates | None:
        lang = doc.lang or detect_language(doc.text[:2000], self.lang)
        pairs = self.schema.questions(lang)
        if not pairs or not doc.text.strip():
            return None
        found = Candidates(doc, lang)
        matches = self.dictionary.matches(doc.text, lang) if self.dictionary is not None else []
        by_type = {t.name: [m for m in matches if self._scheme_hit(m.concepts, t.dictionary)]
                   for t, _ in pairs if t.dictionary}
        top_k = max(concept_type.max_answers for concept_type, _ in pairs)
        predictions = self.qa.predict([q for _, q in pairs], [doc.text] * len(pairs), top_k=top_k,
                                      allow_no_answer=True, batch_size=self.batch_size,
                                      score_spans=[[(m.start, m.end) for m in by_type.get(t.name, ())]
                                                   for t, _ in pairs])
        margins: dict[tuple[str, int, int], tuple[float, str]] = {}
        for (concept_type, question), prediction in zip(pairs, predictions):
            for span in prediction.spans[:concept_type.max_answers]:
                if span.margin < concept_type.threshold:
                    continue
                for start, end in split_list(doc.text, *balance_brackets(doc.text, span.start, span.end)):
                    if end - start < 2 or not is_concept_like(doc.text[start:end], lang):
                        continue
                    found.answers.append(Annotation(doc.id, start, end, doc.text[start:end], concept_type.name,
                                                    round(span.margin, 4), lang, question))
            for (start, end), margin in prediction.scored.items():
                key = (concept_type.name, start, end)
                if key not in margins or margin > margins[key][0]:
                    margins[key] = (margin, question)
        for type_name, type_matches in by_type.items():
            for match in type_matches:
                margin, question = margins.get((type_name, match.start, match.end), (float("-inf"), ""))
                found.dictionary.append((Annotation(doc.id, match.start, match.end, match.text, type_name,
                                                    round(margin, 4), lang, question, source="dictionary"),
                                         match.concepts))
        return found

    def finish(self, found: Candidates, combine: str | None = None) -> list[Annotation]:
        """The schema's combination rule per type, overlaps resolved, assertion and links added."""
        chosen: list[Annotation] = []
        dictionary_spans = {(a.type, a.start, a.end): concepts for a, concepts in found.dictionary}
        for annotation in found.answers:
            mode = combine or self.schema.type(annotation.type).combine
            if mode == "dictionary":
                continue
            if (annotation.type, annotation.start, annotation.end) in dictionary_spans and mode != "qa":
                annotation = replace(annotation, source="qa+dictionary")
            chosen.append(annotation)
        answered = {(a.type, a.start, a.end) for a in found.answers}
        for annotation, _ in found.dictionary:
            concept_type = self.schema.type(annotation.type)
            mode = combine or concept_type.combine
            if mode == "qa" or (annotation.type, annotation.start, annotation.end) in answered:
                continue
            if mode == "confirm" and annotation.score < concept_type.dictionary_threshold:
                continue
            chosen.append(annotation)
        kept = resolve_overlaps(chosen)
        kept = self._assess(found.doc.text, kept, found.lang)
        if self.index is not None:
            kept = self._link(found.doc.text, kept, found.lang, dictionary_spans)
        self.stats["documents"] += 1
        self.stats["questions"] += len(self.schema.questions(found.lang))
        self.stats["answers"] += len(kept)
        return sorted(kept, key=lambda a: (a.start, a.end, a.type))

    def _scheme_hit(self, concepts: tuple[int, ...], schemes: tuple[str, ...]) -> bool:
        """A concept of one of the schemes: "HP", or "WD:DRUG" for Wikidata items of that kind."""
        for c in concepts:
            scheme = scheme_of(self.index.concepts[c])
            if scheme in schemes or any(f"{scheme}:{kind.upper()}" in schemes for kind in self.index.kinds[c]):
                return True
        return False

    def annotate_all(self, docs: Iterable[Document],
                     on_done: Callable[[Document], None] | None = None) -> Iterator[tuple[Document, list[Annotation]]]:
        for doc in docs:
            annotations = self.annotate(doc)
            if on_done:
                on_done(doc)
            yield doc, annotations

    def _assess(self, text: str, annotations: list[Annotation], lang: str) -> list[Annotation]:
        if lang not in SUPPORTED_LANGUAGES:  # no trigger rules for this language: every concept stays "present"
            return annotations
        assertions = assess_many(text, [(a.start, a.end) for a in annotations], lang)
        return [replace(a, assertion=assertion) for a, assertion in zip(annotations, assertions)]

    def _link(self, text: str, annotations: list[Annotation], lang: str,
              dictionary_spans: dict[tuple[str, int, int], tuple[int, ...]] | None = None) -> list[Annotation]:
        """Spans a dictionary found link to the concepts they name (of the type's schemes, in the order the
        schema lists them); the others go through the linker's nearest names."""
        long_forms = abbreviations(text, lang) if self.expand_abbreviations else {}
        dictionary_spans = dictionary_spans or {}
        by_type: dict[str, list[int]] = {}
        links: dict[int, tuple] = {}
        for i, annotation in enumerate(annotations):
            concept_type = self.schema.type(annotation.type)
            if not concept_type.link_to:
                continue
            named = dictionary_spans.get((annotation.type, annotation.start, annotation.end))
            exact = self._named_links(named, concept_type.link_to, annotation.text) if named else ()
            if exact:
                links[i] = exact[:self.link_k]
            else:
                by_type.setdefault(annotation.type, []).append(i)
        for type_name, indices in by_type.items():
            concept_type = self.schema.type(type_name)
            mentions = [long_forms.get(annotations[i].text, annotations[i].text) for i in indices]
            found = self.index.link(mentions, lang, k=self.link_k, schemes=concept_type.link_to,
                                    threshold=concept_type.link_threshold)
            links.update({i: tuple(f) for i, f in zip(indices, found)})
        return [replace(annotation, links=links.get(i, ())) for i, annotation in enumerate(annotations)]

    def _named_links(self, concepts: tuple[int, ...], schemes: tuple[str, ...], surface: str) -> tuple:
        rank = {scheme: i for i, scheme in enumerate(schemes)}
        allowed = [c for c in concepts if scheme_of(self.index.concepts[c]) in rank]
        allowed.sort(key=lambda c: rank[scheme_of(self.index.concepts[c])])  # stable: strongest naming first
        return tuple(ConceptLink(self.index.concepts[c], surface, 1.0, scheme_of(self.index.concepts[c]),
                                 self.index.xrefs[c]) for c in allowed)


def resolve_overlaps(candidates: list[Annotation]) -> list[Annotation]:
    """One type per span: of identical spans the higher QA margin wins (the question that fits it best). Then,
    within a type, overlapping spans keep a graph name (a dictionary span: exact boundaries, names its concept)
    over a QA-only answer, and otherwise the higher margin. Measured on E3C Layer 1 (union, the clinical
    adapter), against margin order alone: strict F1 0.452 → 0.469, relaxed 0.661 → 0.674, link acc@1 0.421 →
    0.434."""
    best_per_span: dict[tuple[int, int], Annotation] = {}
    for candidate in sorted(candidates, key=lambda a: -a.score):
        best_per_span.setdefault((candidate.start, candidate.end), candidate)
    kept: list[Annotation] = []
    for candidate in sorted(best_per_span.values(), key=lambda a: (a.source == "qa", -a.score)):
        if not any(other.start < candidate.end and candidate.start < other.end and other.type == candidate.type
                   for other in kept):
            kept.append(candidate)
    return kept
