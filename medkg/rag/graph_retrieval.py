"""Graph retrieval: the concepts a question names, the facts around them, and the passages mentioning them.

Concepts are found with the same exact, whole-word name matcher that links passages to concepts (labels and
synonyms in every language), so an Italian or Spanish name reaches the concept, and through its English
labels, matches and mentions, English evidence.
"""
from __future__ import annotations

from collections import Counter
from functools import cached_property

from pyoxigraph import Literal, NamedNode

from medkg.kg import namespaces as ns
from medkg.kg.display import compact_iri
from medkg.kg.linking import find_mentions, term_automata
from medkg.kg.store import GraphStore
from medkg.rag.records import ConceptMention, Fact, Hit, Passage

# One small query per kind of fact: Oxigraph answers each in about a millisecond, while their UNION with one
# OPTIONAL label lookup took ~0.4 s per concept (the optional side was evaluated over every English label).
_FACT_QUERIES = (
    """SELECT ?p ?o WHERE { VALUES ?p { rdfs:label obo:IAO_0000115 schema:description } ?c ?p ?o
       FILTER(LANGMATCHES(LANG(?o), "en") || LANGMATCHES(LANG(?o), STR(?lang))) }""",
    """SELECT ?p ?o ?olabel WHERE { BIND(rdfs:subClassOf AS ?p) ?c rdfs:subClassOf ?o FILTER(isIRI(?o))
       OPTIONAL { ?o rdfs:label ?olabel FILTER(LANGMATCHES(LANG(?olabel), "en")) } }""",
    """SELECT ?p ?o WHERE { BIND(oboInOwl:hasDbXref AS ?p) ?c oboInOwl:hasDbXref ?o }""",
    """SELECT ?p ?o ?olabel WHERE { VALUES ?p { skos:exactMatch skos:closeMatch } { ?c ?p ?o } UNION { ?o ?p ?c }
       OPTIONAL { ?o rdfs:label ?olabel FILTER(LANGMATCHES(LANG(?olabel), "en")) } }""",
)

_PASSAGES = """SELECT ?passage ?text ?article ?title ?begin ?end (MAX(?on_topic) AS ?about) WHERE {
  ?c (skos:exactMatch|^skos:exactMatch)? ?same .
  ?mentioned rdfs:subClassOf* ?same .
  ?passage schema:mentions ?mentioned ; schema:text ?text .
  OPTIONAL { ?passage schema:isPartOf ?article . ?article a schema:Article OPTIONAL { ?article schema:name ?title } }
  OPTIONAL { ?passage nif:beginIndex ?begin ; nif:endIndex ?end }
  BIND(IF(BOUND(?article) && EXISTS { ?article schema:about ?same }, 1, 0) AS ?on_topic)
} GROUP BY ?passage ?text ?article ?title ?begin ?end"""

PREDICATE_NAMES = {
    ns.RDFS_LABEL.value: "label", ns.IAO_DEFINITION.value: "definition", ns.SCHEMA_DESCRIPTION.value: "description",
    ns.RDFS_SUBCLASS_OF.value: "subclass of", ns.HAS_DB_XREF.value: "xref",
    ns.SKOS_EXACT_MATCH.value: "same as", ns.SKOS_CLOSE_MATCH.value: "close to",
}


class GraphRetriever:
    def __init__(self, store: GraphStore) -> None:
        self.store = store

    @cached_property
    def _automata(self):
        return term_automata(self.store)  # built once per retriever: a few seconds on a large graph

    def concepts(self, question: str) -> list[ConceptMention]:
        """Concepts named in the question, in any language the graph has names in."""
        found: dict[tuple[str, int], ConceptMention] = {}
        for automaton in self._automata.values():
            for start, end, concepts in find_mentions(question, automaton):
                for concept in concepts:
                    found.setdefault((concept, start), ConceptMention(concept, question[start:end], start, end))
        return sorted(found.values(), key=lambda m: (m.start, m.concept))

    def facts(self, concept: str, lang: str = "en", limit: int = 20) -> list[Fact]:
        bindings = {"c": NamedNode(concept), "lang": Literal(lang)}
        rows = [row for query in _FACT_QUERIES for row in self.store.query(query, bindings=bindings).rows]
        facts = []
        subject = compact_iri(concept)
        for row in rows:
            predicate, obj = row["p"].value, row["o"]
            is_iri = isinstance(obj, NamedNode)
            shown = (row["olabel"].value if "olabel" in row else compact_iri(obj.value)) if is_iri else obj.value
            facts.append(Fact(subject=concept, predicate=predicate, object=obj.value, object_is_iri=is_iri,
                              text=f"{subject} — {PREDICATE_NAMES.get(predicate, compact_iri(predicate))} — {shown}"))
        order = list(PREDICATE_NAMES)
        facts.sort(key=lambda f: (order.index(f.predicate) if f.predicate in order else 99, f.object))
        return facts[:limit]

    def passages(self, concepts: list[str], k: int = 10) -> list[Hit]:
        """Passages mentioning the concepts (or their matches and subtypes): most concepts first, then
        passages of an article about one of them, then earlier passages (leads are the most general)."""
        counts: Counter[str] = Counter()
        found: dict[str, Passage] = {}
        for concept in dict.fromkeys(concepts):
            for row in self.store.query(_PASSAGES, bindings={"c": NamedNode(concept)}).rows:
                iri = row["passage"].value
                counts[iri] += 1 + 0.5 * int(row["about"].value)
                found.setdefault(iri, _passage(row))
        ranked = sorted(counts, key=lambda iri: (-counts[iri], found[iri].begin or 0, iri))[:k]
        return [Hit(passage=found[iri], score=float(counts[iri]), rank=rank, retriever="graph")
                for rank, iri in enumerate(ranked, start=1)]


def _passage(row) -> Passage:
    text = row["text"]
    return Passage(iri=row["passage"].value, text=text.value, lang=(text.language or "und").split("-")[0],
                   article=row["article"].value if "article" in row else None,
                   title=row["title"].value if "title" in row else None,
                   begin=int(row["begin"].value) if "begin" in row else None,
                   end=int(row["end"].value) if "end" in row else None)
