"""Annotation of one document: ask every schema question, keep the answers, assess them, link them.

All questions of a document go to the QA model in one call, so its (question × window) features are batched
together; each question keeps up to `max_answers` non-overlapping spans whose margin over "no answer"
reaches the type's threshold. Answers that are explicit lists ("fiebre, tos y disnea") are split into their
items, because a clinical concept is one item. Within a type, overlapping spans keep the best one; the same
span claimed by two types goes to the type whose question scored it higher.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Iterable, Iterator

from medkg.extract.assertion import SUPPORTED_LANGUAGES, assess_many
from medkg.extract.linker import ConceptIndex, abbreviations
from medkg.extract.records import Annotation, Document
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


@dataclass
class Annotator:
    qa: ExtractiveQA
    schema: Schema
    index: ConceptIndex | None = None     # None: no linking
    lang: str = "auto"
    link_k: int = 3
    expand_abbreviations: bool = True
    batch_size: int | None = None        # windows per forward pass; None: the QA model's default
    stats: dict[str, int] = field(default_factory=lambda: {"documents": 0, "questions": 0, "answers": 0})

    def annotate(self, doc: Document) -> list[Annotation]:
        lang = doc.lang or detect_language(doc.text[:2000], self.lang)
        pairs = self.schema.questions(lang)
        if not pairs or not doc.text.strip():
            return []
        top_k = max(concept_type.max_answers for concept_type, _ in pairs)
        predictions = self.qa.predict([q for _, q in pairs], [doc.text] * len(pairs), top_k=top_k,
                                      allow_no_answer=True, batch_size=self.batch_size)
        candidates: list[Annotation] = []
        for (concept_type, question), prediction in zip(pairs, predictions):
            for span in prediction.spans[:concept_type.max_answers]:
                if span.margin < concept_type.threshold:
                    continue
                for start, end in split_list(doc.text, span.start, span.end):
                    if not is_concept_like(doc.text[start:end], lang):
                        continue
                    candidates.append(Annotation(doc.id, start, end, doc.text[start:end], concept_type.name,
                                                 round(span.margin, 4), lang, question))
        kept = resolve_overlaps(candidates)
        kept = self._assess(doc.text, kept, lang)
        if self.index is not None:
            kept = self._link(doc.text, kept, lang)
        self.stats["documents"] += 1
        self.stats["questions"] += len(pairs)
        self.stats["answers"] += len(kept)
        return sorted(kept, key=lambda a: (a.start, a.end, a.type))

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

    def _link(self, text: str, annotations: list[Annotation], lang: str) -> list[Annotation]:
        long_forms = abbreviations(text, lang) if self.expand_abbreviations else {}
        linked = []
        by_type: dict[str, list[int]] = {}
        for i, annotation in enumerate(annotations):
            if self.schema.type(annotation.type).link_to:
                by_type.setdefault(annotation.type, []).append(i)
        links: dict[int, tuple] = {}
        for type_name, indices in by_type.items():
            concept_type = self.schema.type(type_name)
            mentions = [long_forms.get(annotations[i].text, annotations[i].text) for i in indices]
            found = self.index.link(mentions, lang, k=self.link_k, schemes=concept_type.link_to,
                                    threshold=concept_type.link_threshold)
            links.update({i: tuple(f) for i, f in zip(indices, found)})
        for i, annotation in enumerate(annotations):
            linked.append(replace(annotation, links=links.get(i, ())))
        return linked


def resolve_overlaps(candidates: list[Annotation]) -> list[Annotation]:
    """Best-first: drop a span overlapping a better one of its type, or identical to a better one of any type."""
    kept: list[Annotation] = []
    for candidate in sorted(candidates, key=lambda a: -a.score):
        clash = False
        for other in kept:
            same_span = (other.start, other.end) == (candidate.start, candidate.end)
            overlap = other.start < candidate.end and candidate.start < other.end
            if same_span or (overlap and other.type == candidate.type):
                clash = True
                break
        if not clash:
            kept.append(candidate)
    return kept
