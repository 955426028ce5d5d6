"""The shapes every relation reader writes: typed, labelled nodes and relation edges (with optional per-edge
provenance), so DO reports, Hetionet and Wikidata dumps land in one form.

An edge is one triple ``subject <relation IRI> object`` in the relation's own direction (a source that states
the inverse, "disease is treated by drug", is turned round). Where a row carries its own sources or licence,
an owl:Axiom annotates that very triple with dcterms:source / dcterms:license, as translations do.
"""
from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import Literal, NamedNode, Quad

from medkg.kg import namespaces as ns
from medkg.kg.axioms import annotated_triple
from medkg.kg.relations import relation

IDENTIFIERS = "https://identifiers.org/"
OWL_RESTRICTION = ns.term(ns.OWL, "Restriction")
OWL_ON_PROPERTY = ns.term(ns.OWL, "onProperty")
OWL_SOME_VALUES_FROM = ns.term(ns.OWL, "someValuesFrom")
SKOS_CONCEPT = ns.term(ns.SKOS, "Concept")


def node_quads(node: NamedNode, graph: NamedNode, *, label: str | None = None, kinds: tuple[NamedNode, ...] = (),
               xrefs: tuple[str, ...] = ()) -> Iterator[Quad]:
    """A node a relation source names: its types, English label and normalised cross-references."""
    for kind in kinds:
        yield Quad(node, ns.RDF_TYPE, kind, graph)
    if label:
        yield Quad(node, ns.RDFS_LABEL, Literal(label, language="en"), graph)
    for raw in xrefs:
        xref = ns.normalize_xref(raw)
        if xref:
            yield Quad(node, ns.HAS_DB_XREF, Literal(xref), graph)


def edge_quads(subject: NamedNode, key: str, obj: NamedNode, graph: NamedNode, *, inverse: bool = False,
               sources: str | None = None, licence: str | None = None) -> Iterator[Quad]:
    """One relation edge; ``inverse=True`` when the source states it from the object's side."""
    if inverse:
        subject, obj = obj, subject
    predicate = NamedNode(relation(key).iri)
    yield Quad(subject, predicate, obj, graph)
    if sources or licence:
        axiom = ns.minted("edge", ns.digest(subject.value, predicate.value, obj.value))
        yield from annotated_triple(axiom, subject, predicate, obj, graph)
        if sources:
            yield Quad(axiom, ns.DCTERMS_SOURCE, Literal(sources), graph)
        if licence:
            yield Quad(axiom, ns.DCTERMS_LICENSE, Literal(licence), graph)


def curie_node(curie: str) -> NamedNode:
    """An OBO-style CURIE as its PURL; OMIM numbers as omim.org entries (MIM has no OBO PURL)."""
    prefix, _, local = curie.partition(":")
    if prefix in ("MIM", "OMIM"):
        return NamedNode(f"https://omim.org/entry/{local}")
    return ns.obo_iri(curie)
