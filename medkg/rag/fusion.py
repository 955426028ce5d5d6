"""Reciprocal rank fusion (Cormack et al., 2009): score(d) = sum over rankings of 1 / (k + rank(d))."""
from __future__ import annotations

from medkg.rag.records import Hit, Passage

RRF_K = 60


def reciprocal_rank_fusion(rankings: list[list[Hit]], k: int = RRF_K) -> list[tuple[Passage, float, dict[str, int]]]:
    """Fused (passage, score, {retriever: rank}) best first; ties broken by passage IRI for stable output."""
    scores: dict[str, float] = {}
    passages: dict[str, Passage] = {}
    ranks: dict[str, dict[str, int]] = {}
    for ranking in rankings:
        for hit in ranking:
            iri = hit.passage.iri
            scores[iri] = scores.get(iri, 0.0) + 1.0 / (k + hit.rank)
            passages.setdefault(iri, hit.passage)
            ranks.setdefault(iri, {})[hit.retriever] = hit.rank
    order = sorted(scores, key=lambda iri: (-scores[iri], iri))
    return [(passages[iri], scores[iri], ranks[iri]) for iri in order]
