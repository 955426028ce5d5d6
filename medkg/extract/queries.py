"""SPARQL over annotations stored in the graph (see `rdf`): documents through the ontology hierarchy, and
the read side of `rdf.store_annotations` (`annotated_documents`, `read_document`), so a page can list the
annotated documents and show one with its text and annotations from the graph alone.

Reading is a fixed handful of queries per document (its node, its annotations, their set-valued properties,
the generator), never one per annotation. What RDF cannot keep comes back normalised: cues and xrefs are sets
(``@container: @set`` in the export), so they come back sorted and without repeats; only the best link is
stored, so ``links`` has at most one; a score the export dropped (not finite) comes back as NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import unquote

import pyoxigraph as ox

from medkg.extract.rdf import ANNOTATIONS_GRAPH_PREFIX
from medkg.extract.records import Annotation, Assertion, ConceptLink, Document
from medkg.kg import namespaces as ns
from medkg.kg.store import STAGING_SUFFIX, GraphStore

INFECTIOUS_DISEASE = ns.OBO + "DOID_0050117"

# A linked concept counts when it is the class, a subclass, or matches (skos:exactMatch, either direction,
# from the graph's cross-source links) a subclass: "Polmonite" (HPO) reaches DOID's pneumonia that way.
# Three small queries rather than one: joined to the annotations with the class bound, Oxigraph walks the
# class's whole subtree once per annotation (27 s for "Phenotypic abnormality" on the demo graph); walking up
# from the few linked concepts instead takes milliseconds.
LINKED_CONCEPTS = """
PREFIX oa: <http://www.w3.org/ns/oa#>
SELECT DISTINCT ?concept WHERE {
  GRAPH ?g { ?annotation oa:hasBody ?body ; oa:hasTarget ?target . ?body oa:hasSource ?concept }
  FILTER(isIRI(?concept))
}
"""
# One branch per concept, each path starting from a constant: `VALUES ?concept { … }` before the path means the
# same, but Virtuoso cannot start a `?`/`*` path at a VALUES-bound variable ("transitive derived table but
# neither end of it is bound"); constant starts are fast on every store.
REACH = "{ %s (skos:exactMatch|^skos:exactMatch)?/rdfs:subClassOf* ?up BIND(%s AS ?concept) }"
MENTIONS_OF = """
PREFIX oa: <http://www.w3.org/ns/oa#>
SELECT DISTINCT ?document ?text ?concept ?assertion ?g WHERE {
  VALUES ?concept { %s }
  GRAPH ?g {
    ?annotation oa:hasBody ?body ; oa:hasTarget ?target .
    ?body oa:hasSource ?concept .
    ?target oa:hasSource ?document ; oa:hasSelector ?selector .
    ?selector a oa:TextQuoteSelector ; oa:exact ?text .
    OPTIONAL { ?annotation medkg:assertion ?assertion }
  }
} ORDER BY ?document ?text
"""


@dataclass(frozen=True)
class DocumentMention:
    document: str        # the document IRI
    text: str            # the annotated span
    concept: str         # the linked concept IRI
    assertion: str       # present / negated / …
    graph: str           # the document's named graph


def _iris(terms) -> str:
    return " ".join(str(term) for term in terms)


def documents_mentioning(store: GraphStore, ancestor: str) -> list[DocumentMention]:
    """Spans in annotated documents linked to ``ancestor``, a subclass of it, or a concept matched to one."""
    ancestor = ox.NamedNode(ancestor).value  # a ValueError here for a string that is no IRI, as before
    linked = [row["concept"] for row in store.query(LINKED_CONCEPTS).rows]
    if not linked:
        return []
    reaches = " UNION ".join(REACH % (concept, concept) for concept in linked)
    reaching = {row["concept"] for row in store.query(f"SELECT DISTINCT ?concept ?up WHERE {{ {reaches} }}").rows
                if row["up"].value == ancestor}
    if not reaching:
        return []
    result = store.query(MENTIONS_OF % _iris(sorted(reaching, key=str)))
    return [DocumentMention(row["document"].value, row["text"].value, row["concept"].value,
                            row["assertion"].value if row["assertion"] is not None else "present", row["g"].value)
            for row in result.rows]


# --- reading back what `rdf.store_annotations` wrote ------------------------------------------------------------

# The store predeclares rdf/rdfs/skos/oboInOwl/dcterms/nif/medkg; these are the Web Annotation terms as the
# W3C context maps them (dc: is Dublin Core *elements*, as: is http, not https).
_PROLOGUE = """PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX as: <http://www.w3.org/ns/activitystreams#>
PREFIX dc: <http://purl.org/dc/elements/1.1/>
"""
# A graph being swapped in by `GraphStore.replace_graph` is not a document's graph (yet).
_NOT_STAGING = f'FILTER(!STRENDS(STR(?g), "{STAGING_SUFFIX}"))'

# A document is in a graph when an annotation there targets it, or when `store_annotations` wrote its text
# there (a document the model found nothing in); nif:isString counts only in annotation graphs, so a
# Wikipedia passage with its own text is never taken for one. No UNION here: Oxigraph evaluates a UNION
# before joining it with the VALUES block of the bindings, i.e. over every graph (30-100x slower); the
# alternative path starts from the bound document instead. Filters on ?g stand outside GRAPH, where it is
# bound (SPARQL 1.1, section 18.6).
DOCUMENT_NODE = _PROLOGUE + f"""
SELECT ?g (SAMPLE(?string) AS ?text) (SAMPLE(?identifier) AS ?id) (MIN(?language) AS ?lang) WHERE {{
  GRAPH ?g {{ ?document (^oa:hasSource/^oa:hasTarget)|nif:isString ?found }}
  {_NOT_STAGING}
  FILTER(STRSTARTS(STR(?g), "{ANNOTATIONS_GRAPH_PREFIX}")
         || EXISTS {{ GRAPH ?g {{ ?annotation oa:hasTarget/oa:hasSource ?document }} }})
  OPTIONAL {{ GRAPH ?g {{ ?document nif:isString ?string }} }}
  OPTIONAL {{ GRAPH ?g {{ ?document dcterms:identifier ?identifier }} }}
  OPTIONAL {{ GRAPH ?g {{ ?document dc:language ?language }} }}
}} GROUP BY ?g ORDER BY ?g
"""

# Listing: the annotated documents, then (a second, cheap query) those stored with their text but nothing found.
# Counting first and looking up id and language once per document is 2-3x faster than once per annotation.
ANNOTATED_DOCUMENTS = _PROLOGUE + f"""
SELECT ?document ?g ?n (SAMPLE(?identifier) AS ?id) (MIN(?language) AS ?lang) WHERE {{
  {{ SELECT ?document ?g (COUNT(DISTINCT ?annotation) AS ?n) WHERE {{
      GRAPH ?g {{ ?annotation oa:hasTarget/oa:hasSource ?document }}
      {_NOT_STAGING}
    }} GROUP BY ?document ?g }}
  OPTIONAL {{ GRAPH ?g {{ ?document dcterms:identifier ?identifier }} }}
  OPTIONAL {{ GRAPH ?g {{ ?document dc:language ?language }} }}
}} GROUP BY ?document ?g ?n
"""

UNANNOTATED_DOCUMENTS = _PROLOGUE + f"""
SELECT ?document ?g (SAMPLE(?identifier) AS ?id) (MIN(?language) AS ?lang) (0 AS ?n) WHERE {{
  GRAPH ?g {{
    ?document nif:isString ?text .
    FILTER NOT EXISTS {{ ?annotation oa:hasTarget/oa:hasSource ?document }}
    OPTIONAL {{ ?document dcterms:identifier ?identifier }}
    OPTIONAL {{ ?document dc:language ?language }}
  }}
  FILTER(STRSTARTS(STR(?g), "{ANNOTATIONS_GRAPH_PREFIX}"))
  {_NOT_STAGING}
}} GROUP BY ?document ?g
"""

DOCUMENT_ANNOTATIONS = _PROLOGUE + """
SELECT ?annotation ?start ?end ?exact ?type ?score ?question ?status ?created ?concept ?label ?linkScore ?scheme
WHERE {
  GRAPH ?g {
    ?annotation a oa:Annotation ; oa:hasTarget ?target ; oa:hasBody ?tag .
    ?target oa:hasSource ?document ; oa:hasSelector ?position, ?quote .
    ?position a oa:TextPositionSelector ; oa:start ?start ; oa:end ?end .
    ?quote a oa:TextQuoteSelector ; oa:exact ?exact .
    ?tag oa:hasPurpose oa:tagging ; rdf:value ?type .
    OPTIONAL { ?annotation medkg:qaScore ?score }
    OPTIONAL { ?annotation medkg:question ?question }
    OPTIONAL { ?annotation medkg:assertion ?status }
    OPTIONAL { ?annotation dcterms:created ?created }
    OPTIONAL {
      ?annotation oa:hasBody ?link . ?link oa:hasPurpose oa:identifying ; oa:hasSource ?concept .
      OPTIONAL { ?link rdfs:label ?label }
      OPTIONAL { ?link medkg:linkScore ?linkScore }
      OPTIONAL { ?link medkg:scheme ?scheme }
    }
  }
}
"""

# The set-valued properties of all the document's annotations in one query (a row per value), so the main
# query's rows do not multiply by modifiers x cues x xrefs. The document join is repeated inside each branch:
# joined once outside the UNION, Oxigraph takes time quadratic in the number of annotations (30 s for 3000).
DOCUMENT_ANNOTATION_SETS = _PROLOGUE + """
SELECT ?annotation ?kind ?value WHERE {
  GRAPH ?g {
    { ?annotation oa:hasTarget/oa:hasSource ?document ; medkg:assertionModifier ?value BIND("modifier" AS ?kind) }
    UNION { ?annotation oa:hasTarget/oa:hasSource ?document ; medkg:assertionCue ?value BIND("cue" AS ?kind) }
    UNION { ?annotation oa:hasTarget/oa:hasSource ?document ; oa:hasBody ?link .
            ?link oa:hasPurpose oa:identifying ; oboInOwl:hasDbXref ?value BIND("xref" AS ?kind) }
  }
}
"""

DOCUMENT_GENERATOR = _PROLOGUE + """
SELECT DISTINCT ?generator ?p ?o WHERE {
  GRAPH ?g {
    # the annotations' generator, or the collection's when the model found nothing
    { ?annotation oa:hasTarget/oa:hasSource ?document } UNION { ?annotation a as:OrderedCollection }
    ?annotation as:generator ?generator . ?generator ?p ?o .
    FILTER(?p != rdf:type)
  }
}
"""

# How a generator property is named in `StoredDocument.generator`: as `export.generator_node` was given it.
_GENERATOR_KEYS = {"http://xmlns.com/foaf/0.1/name": "name", "http://schema.org/softwareVersion": "version"}


@dataclass(frozen=True)
class DocumentSummary:
    iri: str             # the document IRI
    id: str              # dcterms:identifier, else the unquoted last path segment of the IRI
    lang: str | None
    annotations: int
    graph: str           # its named graph


@dataclass(frozen=True)
class StoredDocument:
    iri: str
    graph: str
    document: Document               # text is "" when has_text is False
    annotations: list[Annotation]    # sorted by (start, -end, type, id), as the export orders them
    has_text: bool                   # False for graphs written before the text was stored
    created: str | None              # the annotations' dcterms:created (the latest one), as written; None if none
    generator: dict[str, str] = field(default_factory=dict)  # id, name, version, model, schema, … when present


def _id_from_iri(iri: str) -> str:
    """What `export.document_iri` quoted into the IRI's last segment (graphs written before the id was)."""
    return unquote(iri.rstrip("/").rsplit("/", 1)[-1])


def _value(row: dict, name: str) -> str | None:
    term = row.get(name)
    return term.value if term is not None else None


def _float(row: dict, name: str) -> float:
    value = _value(row, name)
    return float(value) if value is not None else math.nan


def annotated_documents(store: GraphStore, limit: int | None = None) -> list[DocumentSummary]:
    """Every document with annotations (or stored text) in the graph, one entry per (document, graph), by id.

    Sorting is done here, not in SPARQL, because the id of a graph written before ids were stored is derived
    from its IRI; ``limit`` keeps the first ones of that order.
    """
    summaries = [DocumentSummary(iri=row["document"].value,
                                 id=_value(row, "id") or _id_from_iri(row["document"].value),
                                 lang=_value(row, "lang"), annotations=int(row["n"].value), graph=row["g"].value)
                 for query in (ANNOTATED_DOCUMENTS, UNANNOTATED_DOCUMENTS) for row in store.query(query).rows
                 if isinstance(row.get("document"), ox.NamedNode)]
    summaries.sort(key=lambda s: (s.id, s.iri, s.graph))
    return summaries if limit is None else summaries[:max(limit, 0)]


def read_document(store: GraphStore, iri: str) -> StoredDocument | None:
    """The document ``iri`` as `rdf.store_annotations` stored it: text, annotations and provenance.

    None when no annotation targets it and no annotation graph holds its text. When several graphs do (a
    document loaded twice under different graph names), the one `rdf.document_graph` names wins. Raises
    ValueError for a string that is not an IRI.
    """
    document = ox.NamedNode(iri)
    nodes = store.query(DOCUMENT_NODE, bindings={"document": document}).rows
    if not nodes:
        return None
    expected = ANNOTATIONS_GRAPH_PREFIX + iri.rstrip("/").rsplit("/", 1)[-1]
    node = min(nodes, key=lambda row: row["g"].value != expected)  # stable: else the first by graph name
    graph = node["g"]
    bindings = {"document": document, "g": graph}
    doc_id = _value(node, "id") or _id_from_iri(iri)
    lang = _value(node, "lang")
    text = _value(node, "text")

    sets: dict[tuple[str, str], set[str]] = {}
    for row in store.query(DOCUMENT_ANNOTATION_SETS, bindings=bindings).rows:
        sets.setdefault((row["annotation"].value, row["kind"].value), set()).add(row["value"].value)

    annotations, stamps, seen = [], set(), set()
    for row in store.query(DOCUMENT_ANNOTATIONS, bindings=bindings).rows:
        key = row["annotation"].value
        if key in seen:  # a graph from elsewhere may say more than one of a thing the export says once
            continue
        seen.add(key)
        if "created" in row:
            stamps.add(row["created"].value)
        links: tuple[ConceptLink, ...] = ()
        if "concept" in row:
            links = (ConceptLink(iri=row["concept"].value, label=_value(row, "label") or "",
                                 score=_float(row, "linkScore"), scheme=_value(row, "scheme"),
                                 xrefs=tuple(sorted(sets.get((key, "xref"), ())))),)
        assertion = Assertion(status=_value(row, "status") or "present",
                              modifiers=frozenset(sets.get((key, "modifier"), ())),
                              cues=tuple(sorted(sets.get((key, "cue"), ()))))
        annotations.append(Annotation(doc_id=doc_id, start=int(row["start"].value), end=int(row["end"].value),
                                      text=row["exact"].value, type=row["type"].value, score=_float(row, "score"),
                                      lang=lang or "", question=_value(row, "question") or "",
                                      assertion=assertion, links=links))
    annotations.sort(key=lambda a: (a.start, -a.end, a.type, a.id))

    generator: dict[str, str] = {}
    for row in store.query(DOCUMENT_GENERATOR, bindings=bindings).rows:
        generator.setdefault("id", row["generator"].value)
        predicate = row["p"].value
        name = _GENERATOR_KEYS.get(predicate) or (predicate[len(ns.MEDKG):] if predicate.startswith(ns.MEDKG)
                                                  else predicate)
        generator.setdefault(name, row["o"].value)

    return StoredDocument(iri=iri, graph=graph.value, document=Document(id=doc_id, text=text or "", lang=lang),
                          annotations=annotations, has_text=text is not None,
                          # the export stamps in UTC, whole seconds ("…T…Z"): text order is time order
                          created=max(stamps, default=None), generator=generator)
