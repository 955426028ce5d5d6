"""The graph as retrieval walks it, held in memory: concepts joined by clinical relations, hierarchy and
cross-source matches (a networkx graph), and which passages mention which concept.

Built once per retriever from a few SPARQL queries (seconds on the full ../shared graph), it answers the
questions retrieval asks thousands of times per evaluation in microseconds: the passages that mention a
concept, its matches or its subclasses; the neighbours of a concept for path search. SPARQL stays the
source of truth: passage texts and labels are read from the store for the few results shown.

    graph = ConceptGraph.load(store)
    graph.passages_for(["http://purl.obolibrary.org/obo/DOID_8622"], k=5)   # [(passage IRI, score), ...]
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from medkg.kg import namespaces as ns
from medkg.kg.relations import relation_iris
from medkg.kg.store import MAINTENANCE_TIMEOUT, GraphStore

SUBCLASS_OF = ns.RDFS_SUBCLASS_OF.value
EXACT, CLOSE = ns.SKOS_EXACT_MATCH.value, ns.SKOS_CLOSE_MATCH.value
# How far "passages mentioning a concept or its subclasses" walks down before it stops: a broad class
# ("disease") has tens of thousands of descendants and its own mentions say more than theirs.
MAX_DESCENDANTS = 500


@dataclass(frozen=True)
class Edge:
    """One statement of the graph between two concepts, with the named graphs (sources) that state it."""

    subject: str
    predicate: str
    object: str
    sources: tuple[str, ...]


class ConceptGraph:
    def __init__(self, graph: nx.Graph, mentions: dict[str, list[str]], about: dict[str, set[str]],
                 order: dict[str, int]) -> None:
        self.graph = graph
        self.mentions = mentions  # concept -> passages that mention it
        self.about = about  # passage -> concepts its article is about
        self.order = order  # passage -> its begin offset (leads first)
        self.children: dict[str, list[str]] = defaultdict(list)
        self.matches: dict[str, set[str]] = defaultdict(set)
        for u, v, data in graph.edges(data=True):
            for edge in data["edges"]:
                if edge.predicate == SUBCLASS_OF:
                    self.children[edge.object].append(edge.subject)
                elif edge.predicate == EXACT:
                    self.matches[u].add(v)
                    self.matches[v].add(u)

    @classmethod
    def load(cls, store: GraphStore) -> ConceptGraph:
        predicates = " ".join(f"<{p}>" for p in [*relation_iris(clinical_only=True), SUBCLASS_OF, EXACT, CLOSE])
        rows = store.query(f"""SELECT ?s ?p ?o ?g WHERE {{ VALUES ?p {{ {predicates} }} GRAPH ?g {{ ?s ?p ?o }}
          FILTER(isIRI(?s) && isIRI(?o) && ?s != ?o) }}""", timeout=MAINTENANCE_TIMEOUT).rows
        sources: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for row in rows:
            sources[(row["s"].value, row["p"].value, row["o"].value)].append(row["g"].value)
        graph = nx.Graph()
        for (s, p, o), graphs in sources.items():
            edge = Edge(s, p, o, tuple(sorted(set(graphs))))
            if graph.has_edge(s, o):
                graph[s][o]["edges"].append(edge)
            else:
                graph.add_edge(s, o, edges=[edge])
        mentions: dict[str, list[str]] = defaultdict(list)
        for row in store.query("SELECT ?p ?c WHERE { GRAPH ?m { ?p schema:mentions ?c } }",
                               bindings={"m": ns.MENTIONS_GRAPH}, timeout=MAINTENANCE_TIMEOUT).rows:
            mentions[row["c"].value].append(row["p"].value)
        about: dict[str, set[str]] = defaultdict(set)
        order: dict[str, int] = {}
        for row in store.query("""SELECT ?p ?c ?begin WHERE { ?p a medkg:Passage
              OPTIONAL { ?p nif:beginIndex ?begin }
              OPTIONAL { ?p schema:isPartOf ?article . ?article a schema:Article ; schema:about ?c } }""",
                               timeout=MAINTENANCE_TIMEOUT).rows:
            passage = row["p"].value
            if "c" in row:
                about[passage].add(row["c"].value)
            if "begin" in row:
                order[passage] = int(row["begin"].value)
        return cls(graph, dict(mentions), dict(about), order)

    # -- passages -----------------------------------------------------------------------------------------

    def same_as(self, concept: str) -> set[str]:
        """The concept and its exact matches in other sources."""
        return {concept} | self.matches.get(concept, set())

    def descendants(self, concepts: Iterable[str], limit: int = MAX_DESCENDANTS) -> set[str]:
        found = set(concepts)
        frontier = list(found)
        while frontier and len(found) < limit:
            current = frontier.pop(0)
            for child in self.children.get(current, ()):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
                    if len(found) >= limit:
                        break
        return found

    def passages_for(self, concepts: Iterable[str], k: int = 10) -> list[tuple[str, float]]:
        """Passages mentioning the concepts (or their exact matches, or their subclasses): one point per
        concept a passage mentions, half a point more when its article is about the concept; ties go to
        earlier passages (article leads are the most general)."""
        counts: Counter[str] = Counter()
        for concept in dict.fromkeys(concepts):
            same = self.same_as(concept)
            seen: set[str] = set()
            for mentioned in self.descendants(same):
                seen.update(self.mentions.get(mentioned, ()))
            for passage in seen:
                counts[passage] += 1 + 0.5 * bool(self.about.get(passage, set()) & same)
        ranked = sorted(counts, key=lambda p: (-counts[p], self.order.get(p, 0), p))[:k]
        return [(p, float(counts[p])) for p in ranked]

    # -- structure ----------------------------------------------------------------------------------------

    def degree(self, concept: str) -> int:
        return self.graph.degree(concept) if concept in self.graph else 0

    def edges_between(self, a: str, b: str) -> list[Edge]:
        return list(self.graph[a][b]["edges"]) if self.graph.has_edge(a, b) else []
