"""Graph retrieval: the concepts a question names, the facts around them, the passages mentioning them, and
the paths that join them to other concepts.

Concepts are found with the same exact, whole-word name matcher that links passages to concepts (labels and
synonyms in every language), so an Italian or Spanish name reaches the concept, and through its English
labels, matches and mentions, English evidence. Facts are rendered in the question's language where the
graph has names in it (relation labels come in en/it/es), English otherwise; a statement that several sources
make is one fact naming all of them.
"""
from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from pathlib import Path

from pyoxigraph import Literal, NamedNode

from medkg.kg import namespaces as ns
from medkg.kg.display import compact_iri
from medkg.kg.linking import find_mentions, graph_fingerprint, term_automata
from medkg.kg.relations import relation_for_iri, relation_iris
from medkg.kg.store import GraphStore
from medkg.rag.cache import cached
from medkg.rag.concept_graph import ConceptGraph
from medkg.rag.paths import ConceptPath, QuestionReach
from medkg.rag.records import ConceptMention, Fact, GraphPathEvidence, Hit, Passage

# One small query per kind of fact: Oxigraph answers each in about a millisecond, while their UNION with one
# OPTIONAL label lookup took ~0.4 s per concept (the optional side was evaluated over every English label).
_FACT_QUERIES = (
    """SELECT ?p ?o ?g WHERE { VALUES ?p { rdfs:label obo:IAO_0000115 schema:description } GRAPH ?g { ?c ?p ?o }
       FILTER(LANGMATCHES(LANG(?o), "en") || LANGMATCHES(LANG(?o), STR(?lang))) }""",
    """SELECT ?p ?o ?g WHERE { BIND(rdfs:subClassOf AS ?p) GRAPH ?g { ?c rdfs:subClassOf ?o } FILTER(isIRI(?o)) }""",
    """SELECT ?p ?o ?g WHERE { BIND(oboInOwl:hasDbXref AS ?p) GRAPH ?g { ?c oboInOwl:hasDbXref ?o } }""",
    """SELECT ?p ?o ?g ?back WHERE { VALUES ?p { skos:exactMatch skos:closeMatch }
       { GRAPH ?g { ?c ?p ?o } BIND(0 AS ?back) } UNION { GRAPH ?g { ?o ?p ?c } BIND(1 AS ?back) } }""",
)
_RELATIONS = " ".join(f"<{iri}>" for iri in relation_iris())
# Relation edges in both directions: ?back = 1 when the concept is the edge's object (an integer, not a boolean:
# Virtuoso turns `true` into 1 in results).
_RELATION_FACTS = f"""SELECT ?p ?o ?g ?back WHERE {{ VALUES ?p {{ {_RELATIONS} }}
  {{ GRAPH ?g {{ ?c ?p ?o }} BIND(0 AS ?back) }} UNION {{ GRAPH ?g {{ ?o ?p ?c }} BIND(1 AS ?back) }}
  FILTER(isIRI(?o)) }}"""
# A name in the question's language may be an alias (Wikidata's Italian names are Wikipedia titles): label,
# then alias, in that language, then the English label.
_LABELS = """SELECT ?x ?name ?via WHERE { VALUES ?via { rdfs:label skos:altLabel } ?x ?via ?name
  FILTER(LANGMATCHES(LANG(?name), STR(?lang)) || (?via = rdfs:label && LANGMATCHES(LANG(?name), "en"))) }"""

# Predicate names in the three languages, for rendering facts; relations have theirs in medkg.kg.relations.
PREDICATE_LABELS = {
    ns.RDFS_LABEL.value: {"en": "label", "it": "nome", "es": "nombre"},
    ns.IAO_DEFINITION.value: {"en": "definition", "it": "definizione", "es": "definición"},
    ns.SCHEMA_DESCRIPTION.value: {"en": "description", "it": "descrizione", "es": "descripción"},
    ns.RDFS_SUBCLASS_OF.value: {"en": "is a kind of", "it": "è un tipo di", "es": "es un tipo de"},
    ns.HAS_DB_XREF.value: {"en": "xref", "it": "codice", "es": "código"},
    ns.SKOS_EXACT_MATCH.value: {"en": "same as", "it": "equivale a", "es": "equivale a"},
    ns.SKOS_CLOSE_MATCH.value: {"en": "close to", "it": "simile a", "es": "similar a"},
}
# Read from object to subject; exact and close matches read the same both ways.
INVERSE_PREDICATE_LABELS = {
    ns.RDFS_SUBCLASS_OF.value: {"en": "has the subtype", "it": "ha come sottotipo", "es": "tiene como subtipo"},
}
# The kind of each predicate (what `select_evidence` and the order of facts go by); relations are "relation".
PREDICATE_NAMES = {
    ns.RDFS_LABEL.value: "label", ns.IAO_DEFINITION.value: "definition", ns.SCHEMA_DESCRIPTION.value: "description",
    ns.RDFS_SUBCLASS_OF.value: "subclass of", ns.HAS_DB_XREF.value: "xref",
    ns.SKOS_EXACT_MATCH.value: "same as", ns.SKOS_CLOSE_MATCH.value: "close to",
}
FACT_ORDER = ("label", "definition", "description", "relation", "subclass of", "same as", "close to", "xref")


def fact_kind(predicate: str) -> str:
    return "relation" if relation_for_iri(predicate) else PREDICATE_NAMES.get(predicate, "other")


def predicate_text(predicate: str, lang: str, *, inverse: bool = False) -> str:
    """How a predicate reads in a language, from subject to object (or, inverse, from object to subject)."""
    rel = relation_for_iri(predicate)
    if rel is not None:
        backwards = inverse != (predicate != rel.iri)  # the inverse IRI read forwards is the inverse label
        return rel.label(lang, inverse=backwards)
    labels = (inverse and INVERSE_PREDICATE_LABELS.get(predicate)) or PREDICATE_LABELS.get(predicate)
    if labels is None:
        return compact_iri(predicate)
    return labels.get(lang, labels["en"])


class GraphRetriever:
    """``cache_dir``: where the name automata and the concept graph are kept between runs (a few seconds to
    load instead of half a minute to build on the full graph); None builds them in memory each time."""

    def __init__(self, store: GraphStore, cache_dir: Path | None = None) -> None:
        self.store = store
        self.cache_dir = cache_dir

    @cached_property
    def fingerprint(self) -> str:
        return graph_fingerprint(self.store)

    @cached_property
    def _automata(self):
        return cached(self.cache_dir, "automata", self.fingerprint, lambda: term_automata(self.store))

    @cached_property
    def concept_graph(self) -> ConceptGraph:
        return cached(self.cache_dir, "concept-graph", self.fingerprint, lambda: ConceptGraph.load(self.store))

    def concepts(self, question: str, languages: tuple[str, ...] | None = None) -> list[ConceptMention]:
        """Concepts named in the question, in any language the graph has names in (or only these)."""
        found: dict[tuple[str, int], ConceptMention] = {}
        for lang, automaton in self._automata.items():
            if languages is not None and lang not in languages:
                continue
            for start, end, concepts in find_mentions(question, automaton):
                for concept in concepts:
                    found.setdefault((concept, start), ConceptMention(concept, question[start:end], start, end))
        return sorted(found.values(), key=lambda m: (m.start, m.concept))

    # -- labels ---------------------------------------------------------------------------------------------

    def labels(self, iris, lang: str = "en") -> dict[str, str]:
        """A display name per IRI: its label in `lang` if it has one, else in English, else the compact IRI."""
        iris = [i for i in dict.fromkeys(iris) if i.startswith(("http://", "https://"))]
        names: dict[str, dict[tuple[str, int], str]] = defaultdict(dict)
        for start in range(0, len(iris), 200):
            values = " ".join(f"<{i}>" for i in iris[start:start + 200])
            result = self.store.query(_LABELS.replace("WHERE {", f"WHERE {{ VALUES ?x {{ {values} }}", 1),
                                      bindings={"lang": Literal(lang)})
            for row in sorted(result.rows, key=lambda r: r["name"].value):
                tag = (row["name"].language or "").split("-")[0].lower()
                rank = 0 if row["via"].value == ns.RDFS_LABEL.value else 1
                names[row["x"].value].setdefault((tag, rank), row["name"].value)

        def best(iri: str) -> str:
            found = names[iri]
            return (found.get((lang, 0)) or found.get((lang, 1)) or found.get(("en", 0))
                    or compact_iri(iri))
        return {i: best(i) for i in iris}

    # -- facts ----------------------------------------------------------------------------------------------

    def facts(self, concept: str, lang: str = "en", limit: int = 20) -> list[Fact]:
        """Statements about a concept: names and definitions, clinical relations in both directions,
        parents, matches and codes; one fact per statement, naming every source that makes it."""
        bindings = {"c": NamedNode(concept), "lang": Literal(lang)}
        stated: dict[tuple[str, str, str, bool], set[str]] = defaultdict(set)
        terms: dict[tuple[str, str, str, bool], object] = {}
        for query in (*_FACT_QUERIES, _RELATION_FACTS):
            for row in self.store.query(query, bindings=bindings).rows:
                back = "back" in row and row["back"].value == "1"
                key = (row["p"].value, row["o"].value, getattr(row["o"], "language", None) or "", back)
                stated[key].add(row["g"].value)
                terms[key] = row["o"]
        others = [key[1] for key, term in terms.items() if isinstance(term, NamedNode)]
        names = self.labels([concept, *others], lang)
        facts = []
        for key, graphs in stated.items():
            predicate, value, _, back = key
            term = terms[key]
            is_iri = isinstance(term, NamedNode)
            shown = names.get(value, compact_iri(value)) if is_iri else value
            subject, obj = (value, concept) if back else (concept, value)
            text = f"{names[concept]} — {predicate_text(predicate, lang, inverse=back)} — {shown}"
            facts.append(Fact(subject=subject, predicate=predicate, object=obj, text=text, object_is_iri=is_iri,
                              sources=tuple(sorted(graphs))))
        facts.sort(key=lambda f: (FACT_ORDER.index(fact_kind(f.predicate)) if fact_kind(f.predicate) in FACT_ORDER
                                  else 99, f.text))
        return self._drop_repeats(facts)[:limit]

    @staticmethod
    def _drop_repeats(facts: list[Fact]) -> list[Fact]:
        """One fact per statement: the same triple found from both ends, or a label another source gives
        too, is kept once (with the sources of all)."""
        merged: dict[tuple[str, str, str], Fact] = {}
        for fact in facts:
            key = (fact.subject, fact.predicate, fact.object)
            if key in merged:
                kept = merged[key]
                merged[key] = Fact(kept.subject, kept.predicate, kept.object, kept.text, kept.object_is_iri,
                                   tuple(sorted(set(kept.sources) | set(fact.sources))))
            else:
                merged[key] = fact
        return list(merged.values())

    # -- passages -------------------------------------------------------------------------------------------

    def passages(self, concepts: list[str], k: int = 10) -> list[Hit]:
        """Passages mentioning the concepts (or their matches and subtypes): most concepts first, then
        passages of an article about one of them, then earlier passages (leads are the most general)."""
        ranked = self.concept_graph.passages_for(concepts, k=k)
        found = self.passage_records([iri for iri, _ in ranked])
        return [Hit(passage=found[iri], score=score, rank=rank, retriever="graph")
                for rank, (iri, score) in enumerate((r for r in ranked if r[0] in found), start=1)]

    def passage_records(self, iris: list[str]) -> dict[str, Passage]:
        """Passage records for these IRIs, read with three small lookups: an OPTIONAL offsets pattern in one
        query made Oxigraph scan every passage's offsets (a second for ten passages)."""
        if not iris:
            return {}
        values = f"VALUES ?passage {{ {' '.join(f'<{i}>' for i in iris)} }}"
        texts = self.store.query(f"SELECT DISTINCT ?passage ?text WHERE {{ {values} ?passage schema:text ?text }}")
        offsets = self.store.query(f"SELECT DISTINCT ?passage ?begin ?end WHERE {{ {values} "
                                   "?passage nif:beginIndex ?begin ; nif:endIndex ?end }")
        articles = self.store.query(f"SELECT DISTINCT ?passage ?article ?title WHERE {{ {values} "
                                    "?passage schema:isPartOf ?article . ?article a schema:Article "
                                    "OPTIONAL { ?article schema:name ?title } }")
        rows: dict[str, dict] = {}
        for result in (texts, offsets, articles):
            for row in result.rows:
                merged = rows.setdefault(row["passage"].value, {})
                for name, term in row.items():
                    merged.setdefault(name, term)
        return {iri: _passage(row) for iri, row in rows.items() if "text" in row}

    # -- paths ----------------------------------------------------------------------------------------------

    def reach(self, concepts: list[str]) -> QuestionReach:
        return QuestionReach(self.concept_graph, concepts)

    def path_evidence(self, paths: list[ConceptPath], lang: str = "en", option: str | None = None,
                      names: dict[str, str] | None = None) -> list[GraphPathEvidence]:
        """Paths as chains of facts, rendered in the question's language (`names`: the nodes' display names,
        when the caller has them already)."""
        names = names if names is not None else self.labels([n for p in paths for n in p.nodes], lang)
        evidence = []
        for path in paths:
            facts = tuple(Fact(subject=e.subject, predicate=e.predicate, object=e.object, sources=e.sources,
                               text=f"{names[e.subject]} — {predicate_text(e.predicate, lang)} — {names[e.object]}")
                          for e in path.edges)
            evidence.append(GraphPathEvidence(path.start, path.end, path.nodes, facts, path.score, option))
        return evidence


def _passage(row) -> Passage:
    text = row["text"]
    return Passage(iri=row["passage"].value, text=text.value, lang=(text.language or "und").split("-")[0],
                   article=row["article"].value if "article" in row else None,
                   title=row["title"].value if "title" in row else None,
                   begin=int(row["begin"].value) if "begin" in row else None,
                   end=int(row["end"].value) if "end" in row else None)
