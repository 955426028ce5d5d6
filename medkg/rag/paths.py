"""Bounded paths between a question's concepts and an option's concepts, over clinical relations, hierarchy
and cross-source matches (`ConceptGraph`).

A path has at most `MAX_HOPS` edges. The search meets in the middle: the question side is expanded two hops
once per question (`QuestionReach`), each option one hop, and paths are read off where the two meet, so an
item with five options costs a few thousand node visits. Hubs (concepts with more than `HUB_DEGREE`
neighbours, such as "disease" or "fever") are reached but not walked through: everything is two hops from
everything through them, which says nothing.

A path's score multiplies what its edges are worth (a clinical relation 1, an exact match 1, a close match
0.8, a step up or down the hierarchy 0.5) and discounts each intermediate concept by how connected it is.

    reach = QuestionReach(graph, question_concepts)
    best = reach.paths_to(option_concepts)[:3]   # ConceptPath, best first
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from medkg.rag.concept_graph import CLOSE, EXACT, SUBCLASS_OF, ConceptGraph, Edge

MAX_HOPS = 3
QUESTION_DEPTH = 2
HUB_DEGREE = 150
EDGE_WEIGHTS = {EXACT: 1.0, CLOSE: 0.8, SUBCLASS_OF: 0.5}  # anything else is a clinical relation: 1.0


@dataclass(frozen=True)
class ConceptPath:
    start: str  # a question concept
    end: str  # an option concept
    nodes: tuple[str, ...]  # start ... end
    edges: tuple[Edge, ...]  # edges[i] joins nodes[i] and nodes[i + 1] (in either direction)
    score: float

    @property
    def hops(self) -> int:
        return len(self.edges)


def edge_weight(edges: list[Edge]) -> float:
    """The best of the statements between two concepts."""
    return max(EDGE_WEIGHTS.get(e.predicate, 1.0) for e in edges)


def hub_discount(degree: int) -> float:
    """1 for a concept with a handful of neighbours, falling slowly with connectedness (0.5 at 100)."""
    return 1.0 / (1.0 + math.log10(max(degree, 1)) / 2)


def _reach(graph: ConceptGraph, sources: Iterable[str], depth: int) -> dict[str, tuple[int, str | None]]:
    """node -> (hops from the nearest source, the node it was reached from); hubs are not expanded."""
    seen: dict[str, tuple[int, str | None]] = {s: (0, None) for s in sources if s in graph.graph}
    frontier = list(seen)
    for hop in range(1, depth + 1):
        nxt = []
        for node in frontier:
            if hop > 1 and graph.degree(node) > HUB_DEGREE:
                continue
            if hop == 1 and graph.degree(node) > HUB_DEGREE * 20:
                continue  # a root-like concept: its neighbourhood is the whole graph
            for neighbour in graph.graph.adj[node]:
                if neighbour not in seen:
                    seen[neighbour] = (hop, node)
                    nxt.append(neighbour)
        frontier = nxt
    return seen


def _chain(reached: dict[str, tuple[int, str | None]], node: str) -> list[str]:
    chain = [node]
    while reached[chain[-1]][1] is not None:
        chain.append(reached[chain[-1]][1])
    return chain  # node ... source


class QuestionReach:
    """The question side of the search, computed once and shared by every option."""

    def __init__(self, graph: ConceptGraph, concepts: Iterable[str]) -> None:
        self.graph = graph
        self.concepts = [c for c in dict.fromkeys(concepts) if c in graph.graph]
        self.reached = _reach(graph, self.concepts, QUESTION_DEPTH)

    def paths_to(self, option_concepts: Iterable[str], limit: int = 20) -> list[ConceptPath]:
        """The best path from each question concept to any of these option concepts, best first."""
        targets = [c for c in dict.fromkeys(option_concepts) if c in self.graph.graph]
        if not targets or not self.concepts:
            return []
        option_side = _reach(self.graph, targets, MAX_HOPS - QUESTION_DEPTH)
        best: dict[str, ConceptPath] = {}
        for meeting, (back, _) in option_side.items():
            if meeting not in self.reached or self.reached[meeting][0] + back > MAX_HOPS:
                continue
            nodes = list(reversed(_chain(self.reached, meeting))) + _chain(option_side, meeting)[1:]
            if len(set(nodes)) != len(nodes) or len(nodes) < 2:
                continue  # a question concept that is itself an option concept says nothing
            path = self._path(nodes)
            if path.start not in best or path.score > best[path.start].score:
                best[path.start] = path
        return sorted(best.values(), key=lambda p: (-p.score, p.hops, p.nodes))[:limit]

    def _path(self, nodes: list[str]) -> ConceptPath:
        edges, score = [], 1.0
        for a, b in zip(nodes, nodes[1:]):
            between = self.graph.edges_between(a, b)
            edges.append(max(between, key=lambda e: (EDGE_WEIGHTS.get(e.predicate, 1.0), e.predicate)))
            score *= edge_weight(between)
        for middle in nodes[1:-1]:
            score *= hub_discount(self.graph.degree(middle))
        return ConceptPath(nodes[0], nodes[-1], tuple(nodes), tuple(edges), round(score, 6))


def path_score(paths: list[ConceptPath], graph: ConceptGraph) -> float:
    """How strongly an option is connected to the question: over the question concepts that reach it, the
    best path's score, each weighted by how specific that question concept is."""
    return sum(p.score * hub_discount(graph.degree(p.start)) for p in paths)
