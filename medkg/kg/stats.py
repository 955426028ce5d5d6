"""What is in the graph: triples per named graph with their provenance, concepts, labels per language."""
from __future__ import annotations

from dataclasses import dataclass, field

from medkg.kg import namespaces as ns
from medkg.kg.store import MAINTENANCE_TIMEOUT, GraphStore


@dataclass
class GraphStats:
    graph: str
    triples: int
    source: str | None = None
    reader: str | None = None
    version: str | None = None
    licence: str | None = None
    loaded: str | None = None
    labels_per_language: dict[str, int] = field(default_factory=dict)


@dataclass
class Stats:
    triples: int
    concepts: int
    passages: int
    articles: int
    mentions: int
    matches: int
    labels_per_language: dict[str, int] = field(default_factory=dict)
    graphs: list[GraphStats] = field(default_factory=list)


def _count(store: GraphStore, variables: str, pattern: str) -> int:
    """Distinct `variables` bindings of `pattern` in medkg's graphs only: on a shared store the default graph
    also holds others' (Virtuoso ships an owl# graph whose owl:Thing and owl:Nothing are classes)."""
    result = store.query(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT {variables} WHERE {{ "
        f"GRAPH ?g {{ {pattern} }} FILTER(STRSTARTS(STR(?g), \"{ns.GRAPH_BASE}\")) }} }}",
        timeout=MAINTENANCE_TIMEOUT)
    return int(result.values("n")[0])


def graph_stats(store: GraphStore) -> Stats:
    # Full IRIs, not `medkg:graph\\/meta`: Virtuoso does not read escaped characters in prefixed names. Only
    # medkg's graphs: a shared store holds others (Virtuoso's own virtrdf#, other users' data).
    per_graph = store.query(
        "SELECT ?g (COUNT(*) AS ?n) ?source ?reader ?version ?licence ?loaded WHERE { "
        f"  GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), \"{ns.GRAPH_BASE}\")) "
        f"  OPTIONAL {{ GRAPH <{ns.META_GRAPH.value}> {{ ?g medkg:sourceFile ?source ; medkg:reader ?reader ; "
        "             prov:generatedAtTime ?loaded . "
        "    OPTIONAL { ?g owl:versionInfo ?version } OPTIONAL { ?g dcterms:license ?licence } } } "
        "} GROUP BY ?g ?source ?reader ?version ?licence ?loaded ORDER BY ?g", timeout=MAINTENANCE_TIMEOUT)
    graphs = []
    for row in per_graph.rows:
        def value(name: str) -> str | None:
            return row[name].value if name in row else None

        graphs.append(GraphStats(row["g"].value, int(row["n"].value), value("source"), value("reader"),
                                 value("version"), value("licence"), value("loaded")))
    labels = store.query(
        "SELECT ?g ?lang (COUNT(*) AS ?n) WHERE { "
        "  VALUES ?p { rdfs:label skos:altLabel skos:prefLabel oboInOwl:hasExactSynonym oboInOwl:hasRelatedSynonym "
        "              oboInOwl:hasBroadSynonym oboInOwl:hasNarrowSynonym } "
        "  GRAPH ?g { ?s ?p ?name } BIND(IF(LANG(?name) = '', '(none)', LANG(?name)) AS ?lang) "
        f"  FILTER(STRSTARTS(STR(?g), \"{ns.GRAPH_BASE}\")) "
        "} GROUP BY ?g ?lang ORDER BY DESC(?n)", timeout=MAINTENANCE_TIMEOUT)
    by_graph = {g.graph: g for g in graphs}
    totals: dict[str, int] = {}
    for row in labels.rows:
        lang, count = row["lang"].value, int(row["n"].value)
        totals[lang] = totals.get(lang, 0) + count
        if row["g"].value in by_graph:
            by_graph[row["g"].value].labels_per_language[lang] = count
    return Stats(
        triples=sum(g.triples for g in graphs),
        concepts=_count(store, "?c", "{ ?c a owl:Class } UNION { ?c a skos:Concept } FILTER(isIRI(?c))"),
        passages=_count(store, "?p", "?p a medkg:Passage"),
        articles=_count(store, "?a", "?a a schema:Article"),
        mentions=_count(store, "?p ?c", "?p schema:mentions ?c"),
        matches=_count(store, "?a ?m ?b", "?a ?m ?b VALUES ?m { skos:exactMatch skos:closeMatch }"),
        labels_per_language=dict(sorted(totals.items(), key=lambda item: -item[1])),
        graphs=graphs,
    )


@dataclass
class RelationSourceStats:
    """How well one source's relation edges join the rest of the graph."""

    graph: str
    edges: int
    both_linked: int  # both ends are concepts of an ontology / Wikidata source, or matched to one
    subject_linked: int
    object_linked: int


def relation_stats(store: GraphStore, graphs: list[str] | None = None) -> list[RelationSourceStats]:
    """Per named graph holding relation edges: edges, and how many link to existing concepts on each end.

    An end links when its IRI is a concept of an ontology, translation or Wikidata source (DOIDs directly,
    for instance) or is matched to one (skos:exactMatch / closeMatch, through shared xrefs or drug labels).
    """
    from medkg.kg.relations import relation_iris

    values = " ".join(f"<{iri}>" for iri in relation_iris())
    only = f"VALUES ?g {{ {' '.join(f'<{g}>' for g in graphs)} }}" if graphs else ""
    edges = store.query(f"SELECT ?g ?s ?o WHERE {{ {only} VALUES ?r {{ {values} }} GRAPH ?g {{ ?s ?r ?o }} }}",
                        timeout=MAINTENANCE_TIMEOUT).rows
    if not edges:
        return []
    families = " || ".join(f'STRSTARTS(STR(?h), "{f}")' for f in ns.CONCEPT_GRAPHS)
    concepts = set(store.query(f"SELECT DISTINCT ?c WHERE {{ GRAPH ?h {{ ?c a ?type }} FILTER({families}) }}",
                               timeout=MAINTENANCE_TIMEOUT).values("c"))
    linked = set(concepts)
    for row in store.query("SELECT ?a ?b WHERE { VALUES ?m { skos:exactMatch skos:closeMatch } ?a ?m ?b }",
                           timeout=MAINTENANCE_TIMEOUT).rows:
        a, b = row["a"].value, row["b"].value
        if a in concepts:
            linked.add(b)
        if b in concepts:
            linked.add(a)
    per_graph: dict[str, list[int]] = {}
    for row in edges:
        counts = per_graph.setdefault(row["g"].value, [0, 0, 0, 0])
        subject, obj = row["s"].value in linked, row["o"].value in linked
        counts[0] += 1
        counts[1] += subject and obj
        counts[2] += subject
        counts[3] += obj
    return [RelationSourceStats(g, *counts) for g, counts in sorted(per_graph.items())]
