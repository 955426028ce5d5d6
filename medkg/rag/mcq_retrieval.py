"""Multiple-choice answering without a language model: each option is scored by the passages that support it
and by the graph paths that join it to the question, and the best-supported option wins.

Signals, each divided by its best option's value within the question (so each lies in 0..1), then added with
`Weights`:
- text: the classic IR baseline of the MedQA and HEAD-QA papers. Passages must match the option and are ranked
  by option + question; the sum of the best k passages' BM25 scores. A question in a language the index has
  no passages in goes through the graph's labels: the question and the option are searched with the English
  names of the concepts they mention (the cross-lingual bridge), beside their own words.
- dense: when a dense index exists, the mean cosine of the best k passages for "question + option"
  (multilingual embeddings need no bridge).
- paths: bounded graph paths (<= 3 hops over clinical relations, hierarchy and matches) from the question's
  concepts to the option's concepts (`medkg.rag.paths`).
A question where no option gets any support is not answered (counted wrong), never guessed.

    predictions = answer_by_retrieval(items, retriever, k=3)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from medkg.errors import MedkgError
from medkg.rag.mcq import MCQItem
from medkg.rag.mcq_eval import MCQPrediction
from medkg.rag.paths import ConceptPath, path_score
from medkg.rag.retrieve import Retriever


@dataclass(frozen=True)
class Weights:
    """How much each signal counts. The defaults were chosen on training-side items only (HEAD-QA train es/en,
    800 each; CasiMedicos train it/es/en, 343 each; macro accuracy over the five), never on the sets we report:
    every signal is weak on exam questions over disease articles, and these weights lost least anywhere."""

    text: float = 1.0
    dense: float = 0.5
    paths: float = 0.25


SIGNALS = ("text", "dense", "paths")


def weights_for(signals: str) -> Weights:
    """``"text,paths"`` -> the default weights of those signals, the others off."""
    chosen = {s.strip() for s in signals.split(",") if s.strip()}
    unknown = chosen - set(SIGNALS)
    if unknown or not chosen:
        raise MedkgError(f"unknown signal(s) {', '.join(sorted(unknown)) or '(none)'}: use {', '.join(SIGNALS)}")
    default = Weights()
    return Weights(**{s: getattr(default, s) if s in chosen else 0.0 for s in SIGNALS})


@dataclass
class OptionSupport:
    text: float = 0.0
    dense: float = 0.0
    paths: float = 0.0
    passages: list[str] = field(default_factory=list)
    graph_paths: list[ConceptPath] = field(default_factory=list)


def _normalised(values: list[float]) -> list[float]:
    best = max(values, default=0.0)
    return [v / best if best > 0 else 0.0 for v in values]


class OptionScorer:
    """Scores the options of one item at a time; shares the question side (concepts, reach) across options."""

    def __init__(self, retriever: Retriever, *, k: int = 3, weights: Weights = Weights()) -> None:
        self.retriever = retriever
        self.k = k
        self.weights = weights
        self.graph = retriever.graph

    def supports(self, item: MCQItem) -> dict[str, OptionSupport]:
        use_text = self.weights.text > 0 and self.retriever.text_index is not None
        use_paths = self.weights.paths > 0
        question_concepts = [m.concept for m in self.graph.concepts(item.question)]
        reach = self.graph.reach(question_concepts) if use_paths else None
        bridged = ""
        if use_text and item.lang != "en" and question_concepts:
            bridged = " ".join(self.retriever.english_names(question_concepts, limit=24))
        supports: dict[str, OptionSupport] = {}
        for label, text in item.options:
            support = OptionSupport()
            option_concepts = [m.concept for m in self.graph.concepts(text)]
            if reach is not None:
                support.graph_paths = reach.paths_to(option_concepts)
                support.paths = path_score(support.graph_paths, self.graph.concept_graph)
            if use_text:
                hits = self.retriever.text_index.search(item.question, must=text, k=self.k, lang=item.lang)
                if item.lang != "en":
                    names = " ".join(self.retriever.english_names(option_concepts)) if option_concepts else ""
                    bridge = self.retriever.text_index.search(f"{bridged} {text}", must=f"{names} {text}",
                                                              k=self.k, lang="en")
                    if sum(h.score for h in bridge) > sum(h.score for h in hits):
                        hits = bridge
                support.text = round(sum(h.score for h in hits), 4)
                support.passages = [h.passage.iri for h in hits]
            supports[label] = support
        if self.weights.dense > 0 and self.retriever.dense_index is not None and len(self.retriever.dense_index):
            self._dense(item, supports)
        return supports

    def _dense(self, item: MCQItem, supports: dict[str, OptionSupport]) -> None:
        index = self.retriever.dense_index
        queries = [f"{item.question} {text}" for _, text in item.options]
        vectors = index.encoder.encode_queries(queries)
        similarities = index.vectors @ vectors.T  # passages x options
        top = np.sort(similarities, axis=0)[-self.k:]
        for (label, _), column in zip(item.options, top.T):
            supports[label].dense = float(column.mean())

    def predict(self, item: MCQItem, supports: dict[str, OptionSupport] | None = None) -> MCQPrediction:
        """The best-supported option (from `supports`, computed here when not given)."""
        supports = supports if supports is not None else self.supports(item)
        labels = list(supports)
        text = _normalised([supports[l].text for l in labels])
        paths = _normalised([supports[l].paths for l in labels])
        dense = [supports[l].dense for l in labels]
        # cosines of a multilingual model crowd together (0.80-0.86): what tells options apart is how far
        # each is above the weakest
        floor = min(dense, default=0.0)
        dense = _normalised([d - floor for d in dense])
        w = self.weights
        scores = {l: round(w.text * t + w.dense * d + w.paths * p, 6) for l, t, d, p in zip(labels, text, dense, paths)}
        best = max(scores.values(), default=0.0)
        winners = [l for l, s in scores.items() if s == best]
        predicted = winners[0] if len(winners) == 1 and best > 0 else None
        return MCQPrediction(item.id, predicted, predicted == item.answer, scores,
                             {l: supports[l].passages for l in labels},
                             {l: [list(p.nodes) for p in supports[l].graph_paths[:3]] for l in labels})


def answer_by_retrieval(items: Sequence[MCQItem], retriever: Retriever, *, k: int = 3, weights: Weights = Weights(),
                        progress: Callable[[str, int], Callable[[int], None]] | None = None) -> list[MCQPrediction]:
    scorer = OptionScorer(retriever, k=k, weights=weights)
    advance = progress("retrieval", len(items)) if progress else None
    predictions = []
    for item in items:
        predictions.append(scorer.predict(item))
        if advance:
            advance(1)
    return predictions
