"""What the explorer's pages show, read from the graph into plain records (no HTML here).

Every statement shown carries the named graph it came from; `Sources` turns graphs into the titles, licences
and versions that loading recorded in medkg's meta graph, so each fact on a page says where it comes from.
Queries run in-process with the store's time limit; they are ours and bounded (LIMITs), unlike user queries.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import unquote

import pyoxigraph as ox

from medkg.extract.linker import fold
from medkg.extract.queries import documents_mentioning
from medkg.kg import namespaces as ns
from medkg.kg.display import compact_iri
from medkg.kg.queries import run_saved
from medkg.kg.relations import relation_for_iri, relation_iris
from medkg.kg.store import GraphStore

NAME_PREDICATES = {
    ns.RDFS + "label": "label", ns.SKOS + "prefLabel": "preferred label", ns.SKOS + "altLabel": "alias",
    ns.OBOINOWL + "hasExactSynonym": "exact synonym", ns.OBOINOWL + "hasRelatedSynonym": "related synonym",
    ns.OBOINOWL + "hasBroadSynonym": "broad synonym", ns.OBOINOWL + "hasNarrowSynonym": "narrow synonym",
}
DEFINITION_PREDICATES = {
    ns.OBO + "IAO_0000115": "definition", ns.SKOS + "definition": "definition",
    ns.SCHEMA + "description": "description", ns.RDFS + "comment": "comment",
}
_SHOWN_ELSEWHERE = {*NAME_PREDICATES, *DEFINITION_PREDICATES, ns.RDFS + "subClassOf", ns.OBOINOWL + "hasDbXref",
                    *relation_iris()}
_VALUES_NAMES = " ".join(f"<{p}>" for p in NAME_PREDICATES)
LANGUAGE_ORDER = ("en", "it", "es")
MAX_CHILDREN = 200
MAX_PASSAGES = 20
MAX_STATEMENTS = 300
MAX_RELATIONS = 400
MAX_SEARCH_HITS = 50


# -- sources ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    graph: str
    title: str
    licence: str | None = None
    version: str | None = None
    url: str | None = None        # where the source was published
    file: str | None = None       # the file it was loaded from
    loaded: str | None = None


_MEDKG_GRAPHS = {
    str(ns.LINKS_GRAPH.value): "medkg cross-source matches (shared cross-references and drug labels)",
    str(ns.MENTIONS_GRAPH.value): "medkg concept mentions in passages",
}
ANNOTATIONS_PREFIX = ns.GRAPH_BASE + "annotations/"


class Sources:
    """Named graph → its provenance, read once per page from medkg:graph/meta."""

    def __init__(self, store: GraphStore) -> None:
        result = store.query(f"""SELECT ?g ?p ?o WHERE {{ GRAPH <{ns.META_GRAPH.value}> {{ ?g ?p ?o }} }}""")
        facts: dict[str, dict[str, str]] = defaultdict(dict)
        for row in result.rows:
            facts[row["g"].value][row["p"].value] = row["o"].value
        self._known = {graph: Source(
            graph=graph,
            title=f.get(ns.DCTERMS + "title") or f.get(ns.MEDKG + "sourceFile") or compact_iri(graph),
            licence=f.get(ns.DCTERMS + "license"), version=f.get(ns.OWL + "versionInfo"),
            url=f.get(ns.DCTERMS + "source"), file=f.get(ns.MEDKG + "sourceFile"),
            loaded=f.get(ns.PROV + "generatedAtTime")) for graph, f in facts.items()}

    def __call__(self, graph: str | None) -> Source | None:
        if graph is None:
            return None
        if graph in self._known:
            return self._known[graph]
        if graph in _MEDKG_GRAPHS:
            return Source(graph, _MEDKG_GRAPHS[graph])
        if graph.startswith(ANNOTATIONS_PREFIX):
            return Source(graph, f"annotations of {unquote(graph[len(ANNOTATIONS_PREFIX):])}")
        return Source(graph, compact_iri(graph))

    def all(self) -> list[Source]:
        return sorted(self._known.values(), key=lambda s: s.title.lower())


# -- labels -------------------------------------------------------------------------------------------------

def _iri_terms(iris) -> list[str]:
    return [str(ox.NamedNode(iri)) for iri in iris]


def display_labels(store: GraphStore, iris) -> dict[str, str]:
    """A name for each IRI: its English rdfs:label, else any label, else its preferred label, else its CURIE."""
    iris = list(dict.fromkeys(iris))
    if not iris:
        return {}
    # One VALUES block of (IRI, predicate) pairs: two blocks crossed make Oxigraph 300x slower here.
    pairs = " ".join(f"({node} {predicate})" for node in _iri_terms(iris)
                     for predicate in ("rdfs:label", "skos:prefLabel", "schema:name"))
    result = store.query(f"""SELECT ?x ?p ?name WHERE {{ VALUES (?x ?p) {{ {pairs} }} ?x ?p ?name
  FILTER(isLiteral(?name)) }}""")
    best: dict[str, tuple[int, str]] = {}
    for row in result.rows:
        name = row["name"]
        rank = (0 if row["p"].value == ns.RDFS + "label" else 2) + (0 if (name.language or "en") == "en" else 1)
        current = best.get(row["x"].value)
        if current is None or (rank, name.value) < current:
            best[row["x"].value] = (rank, name.value)
    return {iri: best[iri][1] if iri in best else compact_iri(iri) for iri in iris}


# -- search -------------------------------------------------------------------------------------------------

_FOLD_CLASSES = {"a": "aáàâäãå", "e": "eéèêë", "i": "iíìîï", "o": "oóòôöõ", "u": "uúùûü", "n": "nñ", "c": "cç",
                 "y": "yýÿ"}


def accent_insensitive_pattern(text: str) -> str:
    """An XPath regex (SPARQL REGEX with flag "i") matching ``text`` whatever its accents; everything else
    is escaped, so the user's text is only ever matched, never interpreted."""
    parts = []
    for char in fold(text):
        if char in _FOLD_CLASSES:
            parts.append(f"[{_FOLD_CLASSES[char]}]")
        elif char.isalnum() or char == " ":
            parts.append(char)
        else:
            parts.append("\\" + char if char in ".^$|?*+()[]{}\\-" else re.escape(char))
    return "".join(parts)


@dataclass(frozen=True)
class SearchHit:
    concept: str
    name: str          # the name that matched
    lang: str          # its language ("" when untagged)
    kind: str          # label, exact synonym, alias, …
    label: str         # the concept's display label
    rank: tuple        # smaller is better: exact, prefix, word prefix, contained; then shorter names


def search_concepts(store: GraphStore, text: str, *, lang: str = "", limit: int = MAX_SEARCH_HITS
                    ) -> tuple[list[SearchHit], int]:
    """Concepts with a label or synonym containing ``text`` (case and accent insensitive), in any language
    or in ``lang``; best matches first. Returns the hits shown and how many concepts matched in all."""
    text = " ".join(text.split())
    if len(text) < 2:
        return [], 0
    # The pattern is written into the query as an escaped literal, not bound: a bound pattern is compiled
    # again for every name (20 s instead of 0.3 s on 200k names).
    pattern = str(ox.Literal(accent_insensitive_pattern(text)))
    language = f"&& LANGMATCHES(LANG(?name), {ox.Literal(lang)})" if lang else ""
    result = store.query(f"""SELECT ?concept ?via ?name WHERE {{
  VALUES ?via {{ {_VALUES_NAMES} }}
  ?concept ?via ?name .
  FILTER(isIRI(?concept) && isLiteral(?name) && REGEX(STR(?name), {pattern}, "i") {language})
  MINUS {{ ?concept a schema:Article }}
}} LIMIT 20000""")
    wanted = fold(text)
    best: dict[str, tuple[tuple, str, str, str]] = {}
    for row in result.rows:
        name = row["name"]
        folded = fold(name.value)
        if folded == wanted:
            how = 0
        elif folded.startswith(wanted):
            how = 1
        elif re.search(r"(?<!\w)" + re.escape(wanted), folded):
            how = 2
        else:
            how = 3
        rank = (how, 0 if row["via"].value == ns.RDFS + "label" else 1, len(name.value), name.value)
        concept = row["concept"].value
        if concept not in best or rank < best[concept][0]:
            best[concept] = (rank, name.value, name.language or "", NAME_PREDICATES[row["via"].value])
    ordered = sorted(best.items(), key=lambda item: (item[1][0], item[0]))[:limit]
    labels = display_labels(store, [concept for concept, _ in ordered])
    hits = [SearchHit(concept, name, language, kind, labels[concept], rank)
            for concept, (rank, name, language, kind) in ordered]
    return hits, len(best)


# -- concept page -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Name:
    text: str
    kind: str
    source: Source | None
    status: str | None = None   # translation status, where the source records one


@dataclass(frozen=True)
class Text:
    text: str
    kind: str
    lang: str
    source: Source | None


@dataclass(frozen=True)
class Related:
    iri: str
    label: str
    source: Source | None = None
    note: str = ""


@dataclass(frozen=True)
class Xref:
    code: str
    source: Source | None


@dataclass(frozen=True)
class PassageHit:
    passage: str
    article: str
    title: str
    text: str
    mentioned: str           # the concept the passage mentions (this one, a match, or a descendant)
    mentioned_label: str
    direct: bool             # mentions this concept or one matched to it, not a descendant
    source: Source | None    # the Wikipedia dump it comes from (its licence asks for attribution)


@dataclass(frozen=True)
class DocumentHit:
    document: str
    name: str
    spans: list[tuple[str, str, str]]  # (text, concept, assertion)


@dataclass(frozen=True)
class RelationLink:
    """One medical relation edge as the concept page reads it, from the concept's side: "is treated by
    metformin" for the edge "metformin treats type 2 diabetes"; every source that states it."""

    relation: str  # the relation's English label, read from this concept
    predicate: str  # the stored predicate IRI
    other: str
    other_label: str
    incoming: bool  # the concept is the edge's object
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Statement:
    predicate: str
    value: ox.NamedNode | ox.Literal | ox.BlankNode
    source: Source | None


@dataclass
class ConceptView:
    iri: str
    label: str
    names: dict[str, list[Name]] = field(default_factory=dict)   # language → names, en/it/es first
    definitions: list[Text] = field(default_factory=list)
    parents: list[Related] = field(default_factory=list)
    children: list[Related] = field(default_factory=list)
    more_children: bool = False
    xrefs: list[Xref] = field(default_factory=list)
    matches: list[Related] = field(default_factory=list)
    relations: list[RelationLink] = field(default_factory=list)
    more_relations: bool = False
    articles: list[Related] = field(default_factory=list)
    passages: list[PassageHit] = field(default_factory=list)
    documents: list[DocumentHit] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.names or self.definitions or self.parents or self.children or self.xrefs
                    or self.matches or self.relations or self.statements)

    def relations_by_label(self) -> list[tuple[str, list[RelationLink]]]:
        groups: dict[str, list[RelationLink]] = defaultdict(list)
        for link in self.relations:
            groups[link.relation].append(link)
        return sorted(groups.items())


def _language_key(lang: str) -> tuple:
    return (LANGUAGE_ORDER.index(lang) if lang in LANGUAGE_ORDER else len(LANGUAGE_ORDER), lang)


def _names(store: GraphStore, concept: ox.NamedNode, sources: Sources) -> dict[str, list[Name]]:
    result = store.query(f"""SELECT ?via ?name ?g WHERE {{
  VALUES ?via {{ {_VALUES_NAMES} }}
  GRAPH ?g {{ ?concept ?via ?name }} FILTER(isLiteral(?name)) }}""", bindings={"concept": concept})
    # Translation status sits on an owl:Axiom about (concept, property, name); asked separately, starting from
    # the concept, because as an OPTIONAL of the query above Oxigraph scans every axiom (10x slower).
    statuses = store.query("""SELECT ?via ?name ?status WHERE {
  ?axiom owl:annotatedSource ?concept ; medkg:translationStatus ?status ;
         owl:annotatedProperty ?via ; owl:annotatedTarget ?name }""", bindings={"concept": concept})
    status_of = {(row["via"].value, row["name"]): row["status"].value for row in statuses.rows}
    by_language: dict[str, dict[tuple, Name]] = defaultdict(dict)
    for row in result.rows:
        name, via = row["name"], row["via"].value
        key = (name.value, via, row["g"].value)
        by_language[name.language or ""][key] = Name(name.value, NAME_PREDICATES[via], sources(row["g"].value),
                                                     status_of.get((via, name)))
    kinds = list(NAME_PREDICATES.values())
    return {lang: sorted(names.values(), key=lambda n: (kinds.index(n.kind), n.text.lower()))
            for lang, names in sorted(by_language.items(), key=lambda item: _language_key(item[0]))}


def _definitions(store: GraphStore, concept: ox.NamedNode, sources: Sources) -> list[Text]:
    values = " ".join(f"<{p}>" for p in DEFINITION_PREDICATES)
    result = store.query(f"""SELECT ?p ?text ?g WHERE {{ VALUES ?p {{ {values} }}
  GRAPH ?g {{ ?concept ?p ?text }} FILTER(isLiteral(?text)) }}""", bindings={"concept": concept})
    texts = {(row["text"].value, row["g"].value): Text(row["text"].value, DEFINITION_PREDICATES[row["p"].value],
                                                      row["text"].language or "", sources(row["g"].value))
             for row in result.rows}
    return sorted(texts.values(), key=lambda t: (_language_key(t.lang), t.kind, t.text))


def _hierarchy(store: GraphStore, concept: ox.NamedNode, sources: Sources) -> tuple[list[Related], list[Related], bool]:
    parents = store.query("""SELECT DISTINCT ?x ?g WHERE {
  GRAPH ?g { ?concept rdfs:subClassOf ?x } FILTER(isIRI(?x)) }""", bindings={"concept": concept})
    children = store.query(f"""SELECT DISTINCT ?x ?g WHERE {{ GRAPH ?g {{ ?x rdfs:subClassOf ?concept }} }}
LIMIT {MAX_CHILDREN + 1}""", bindings={"concept": concept})
    labels = display_labels(store, [r["x"].value for r in parents.rows + children.rows])

    def related(rows) -> list[Related]:
        items: dict[str, Related] = {}
        for row in sorted(rows, key=lambda r: r["g"].value):  # stated by several sources: the same one shown
            items.setdefault(row["x"].value, Related(row["x"].value, labels[row["x"].value], sources(row["g"].value)))
        return sorted(items.values(), key=lambda r: r.label.lower())

    return related(parents.rows), related(children.rows[:MAX_CHILDREN]), len(children.rows) > MAX_CHILDREN


def _xrefs(store: GraphStore, concept: ox.NamedNode, sources: Sources) -> list[Xref]:
    result = store.query("SELECT DISTINCT ?xref ?g WHERE { GRAPH ?g { ?concept oboInOwl:hasDbXref ?xref } }",
                         bindings={"concept": concept})
    return sorted((Xref(row["xref"].value, sources(row["g"].value)) for row in result.rows),
                  key=lambda x: (x.code.split(":")[0], x.code))


def _matches(store: GraphStore, concept: ox.NamedNode, sources: Sources) -> list[Related]:
    """The saved query "equivalents" in two steps: as one query with its evidence in an OPTIONAL, Oxigraph
    reads every match axiom in the graph (0.5 s on the full graph, against a few ms here)."""
    links = sources(ns.LINKS_GRAPH.value)
    matched = store.query("""SELECT DISTINCT ?match ?relation WHERE {
  VALUES ?relation { skos:exactMatch skos:closeMatch }
  { ?concept ?relation ?match } UNION { ?match ?relation ?concept } FILTER(isIRI(?match)) }""",
                          bindings={"concept": concept})
    evidence = store.query("""SELECT DISTINCT ?match ?relation ?xref WHERE {
  ?axiom owl:annotatedSource|owl:annotatedTarget ?concept .
  ?axiom owl:annotatedSource|owl:annotatedTarget ?match ; owl:annotatedProperty ?relation ;
         medkg:sharedXref|medkg:sharedLabel ?xref .
  FILTER(?match != ?concept) }""", bindings={"concept": concept})
    shared: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in evidence.rows:
        shared[(row["match"].value, row["relation"].value)].append(row["xref"].value)
    labels = display_labels(store, [row["match"].value for row in matched.rows])
    matches = []
    for row in matched.rows:
        match, relation = row["match"].value, row["relation"].value
        codes = " ".join(sorted(shared.get((match, relation), [])))
        matches.append(Related(match, labels[match], links,
                               compact_iri(relation) + (f" · shared {codes}" if codes else "")))
    return sorted(matches, key=lambda r: (not r.note.startswith("skos:exactMatch"), r.label.lower(), r.iri))


_RELATIONS = f"""SELECT ?p ?x ?g ?back WHERE {{ VALUES ?p {{ {" ".join(f"<{iri}>" for iri in relation_iris())} }}
  {{ GRAPH ?g {{ ?concept ?p ?x }} BIND(0 AS ?back) }} UNION {{ GRAPH ?g {{ ?x ?p ?concept }} BIND(1 AS ?back) }}
  FILTER(isIRI(?x)) }} LIMIT {MAX_RELATIONS + 1}"""


def _relations(store: GraphStore, concept: ox.NamedNode, sources: Sources) -> tuple[list[RelationLink], bool]:
    """Medical relations in both directions, each read from this concept's side, one per edge with all the
    sources that state it."""
    rows = store.query(_RELATIONS, bindings={"concept": concept}).rows
    graphs: dict[tuple[str, str, bool], set[str]] = defaultdict(set)
    for row in rows[:MAX_RELATIONS]:
        graphs[(row["p"].value, row["x"].value, row["back"].value == "1")].add(row["g"].value)
    labels = display_labels(store, [other for _, other, _ in graphs])
    links = []
    for (predicate, other, incoming), found in graphs.items():
        rel = relation_for_iri(predicate)
        backwards = incoming != (predicate != rel.iri)
        links.append(RelationLink(rel.label("en", inverse=backwards), predicate, other, labels[other], incoming,
                                  tuple(sources(g) for g in sorted(found))))
    return sorted(links, key=lambda r: (r.relation, r.other_label.lower(), r.other)), len(rows) > MAX_RELATIONS


def _articles(store: GraphStore, concept: ox.NamedNode) -> list[Related]:
    rows = run_saved(store, "articles", concept=concept.value).rows
    return [Related(row["article"].value, row["title"].value if row.get("title") else row["article"].value,
                    None, row["lang"].value) for row in rows]


_PASSAGES = """SELECT DISTINCT ?passage ?article ?title ?mentioned ?text ?g WHERE {{
  {mentioned}
  ?passage schema:mentions ?mentioned ; schema:isPartOf ?article .
  GRAPH ?g {{ ?passage schema:text ?text }}
  ?article a schema:Article .
  OPTIONAL {{ ?article schema:name ?title }}
}} LIMIT {limit}"""


def _passages(store: GraphStore, concept: ox.NamedNode, matches: list[Related], sources: Sources) -> list[PassageHit]:
    """Passages that mention the concept or an exact match; when fewer than a page's worth, also passages that
    mention a subclass. Not the saved query, which returns every passage under a broad class in order: a page
    wants a few, found without sorting them all."""
    direct = store.query(_PASSAGES.format(mentioned="?concept (skos:exactMatch|^skos:exactMatch)? ?mentioned .",
                                          limit=MAX_PASSAGES), bindings={"concept": concept}).rows
    rows = list(direct)
    if len(direct) < MAX_PASSAGES:
        rows += store.query(_PASSAGES.format(
            mentioned="?concept (skos:exactMatch|^skos:exactMatch)? ?same . ?mentioned rdfs:subClassOf+ ?same .",
            limit=MAX_PASSAGES), bindings={"concept": concept}).rows
    same = {concept.value} | {match.iri for match in matches}
    labels = display_labels(store, [row["mentioned"].value for row in rows])
    hits: dict[str, PassageHit] = {}
    for row in rows:
        passage, mentioned = row["passage"].value, row["mentioned"].value
        if passage in hits:
            continue  # the direct mention, found first, wins
        hits[passage] = PassageHit(passage, row["article"].value,
                                   row["title"].value if row.get("title") else compact_iri(row["article"].value),
                                   row["text"].value, mentioned, labels[mentioned], mentioned in same,
                                   sources(row["g"].value))
    return sorted(hits.values(), key=lambda p: (not p.direct, p.title, p.passage))[:MAX_PASSAGES]


def _documents(store: GraphStore, concept: ox.NamedNode) -> list[DocumentHit]:
    spans: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for mention in documents_mentioning(store, concept.value):
        spans[mention.document].append((mention.text, mention.concept, mention.assertion))
    return [DocumentHit(document, unquote(document.rsplit("/", 1)[-1]), sorted(set(items)))
            for document, items in sorted(spans.items())]


def _statements(store: GraphStore, concept: ox.NamedNode, sources: Sources) -> list[Statement]:
    result = store.query(f"""SELECT ?p ?o ?g WHERE {{ GRAPH ?g {{ ?concept ?p ?o }} }} LIMIT {MAX_STATEMENTS}""",
                         bindings={"concept": concept})
    rows = [row for row in result.rows if row["p"].value not in _SHOWN_ELSEWHERE]
    return sorted((Statement(row["p"].value, row["o"], sources(row["g"].value)) for row in rows),
                  key=lambda s: (compact_iri(s.predicate), str(s.value)))


def concept_view(store: GraphStore, iri: str) -> ConceptView:
    """Everything the concept page shows about ``iri``; `ConceptView.found` is False when the graph has nothing."""
    concept = ox.NamedNode(iri)
    sources = Sources(store)
    view = ConceptView(iri, display_labels(store, [iri])[iri])
    view.names = _names(store, concept, sources)
    view.definitions = _definitions(store, concept, sources)
    view.parents, view.children, view.more_children = _hierarchy(store, concept, sources)
    view.xrefs = _xrefs(store, concept, sources)
    view.matches = _matches(store, concept, sources)
    view.relations, view.more_relations = _relations(store, concept, sources)
    view.statements = _statements(store, concept, sources)
    if view.names or view.xrefs or view.matches:  # a concept, not some other resource: its evidence too
        view.articles = _articles(store, concept)
        view.passages = _passages(store, concept, view.matches, sources)
        view.documents = _documents(store, concept)
    return view


def concepts_with_xref(store: GraphStore, code: str) -> list[Related]:
    rows = run_saved(store, "by-xref", xref=code).rows
    labels = display_labels(store, [row["concept"].value for row in rows])
    return [Related(row["concept"].value, labels[row["concept"].value]) for row in rows]
