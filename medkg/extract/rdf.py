"""Annotations as RDF in the graph: one named graph per document, so SPARQL reaches documents through the
ontologies (`?a oa:hasBody/oa:hasSource ?c . ?c rdfs:subClassOf* obo:DOID_0050117`).

The graph holds the JSON-LD export's triples (parsed offline by Oxigraph with the W3C context swapped for its
local copy, so the file and the graph never disagree about the annotations) plus what the export leaves out:
the document itself, as ``<document> nif:isString "<the text, exactly>"`` and ``dcterms:identifier "<id>"``
(and its ``dc:language`` when known, which the export states only through annotation targets). That is what
lets the explorer (and `queries.read_document`) show the annotated text from the graph alone, and find a
document the model found nothing in. The text lives only in the store the user chose: the JSON-LD and Turtle
files stay pure Web Annotation, and nothing leaves the machine. Re-annotating a document replaces its graph.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

import pyoxigraph as ox

from medkg.extract.export import document_iri, offline_jsonld, to_web_annotations
from medkg.extract.records import Annotation, Document
from medkg.kg import namespaces as ns

ANNOTATIONS_GRAPH_PREFIX = ns.MEDKG + "graph/annotations/"
NIF_IS_STRING = ns.term(ns.NIF, "isString")
DCTERMS_IDENTIFIER = ns.term(ns.DCTERMS, "identifier")
# The export's "language" is the W3C context's dc:language (Dublin Core elements), not dcterms:language.
DC_LANGUAGE = ox.NamedNode("http://purl.org/dc/elements/1.1/language")


def document_graph(doc: Document) -> ox.NamedNode:
    return ox.NamedNode(ANNOTATIONS_GRAPH_PREFIX + quote(doc.id, safe=""))


def annotation_triples(doc: Document, annotations: Sequence[Annotation], generator: dict | None = None) -> list:
    data = offline_jsonld(to_web_annotations(doc, annotations, generator))
    return [quad.triple for quad in ox.parse(json.dumps(data).encode("utf-8"), ox.RdfFormat.JSON_LD)]


def document_triples(doc: Document) -> list[ox.Triple]:
    """What the graph says of the document beyond the export: its text (exactly, ``\\r`` included), its id and
    its language. NIF's ``isString`` is the standard property for "the string this text is", and the
    selectors' offsets count code points of that very string; it is a plain ``xsd:string`` (the language is a
    triple of its own), so it compares equal to ``Document.text`` with no tag to strip."""
    node = ox.NamedNode(document_iri(doc))
    triples = [ox.Triple(node, NIF_IS_STRING, ox.Literal(doc.text)),
               ox.Triple(node, DCTERMS_IDENTIFIER, ox.Literal(doc.id))]
    if doc.lang:
        triples.append(ox.Triple(node, DC_LANGUAGE, ox.Literal(doc.lang)))
    return triples


def store_annotations(store, doc: Document, annotations: Sequence[Annotation],
                      generator: dict | None = None) -> ox.NamedNode:
    """Replace the document's named graph with its annotations and its text; returns the graph's name."""
    triples = annotation_triples(doc, annotations, generator) + document_triples(doc)
    graph = document_graph(doc)
    store.replace_graph(graph, lambda g: store.add_quads(ox.Quad(t.subject, t.predicate, t.object, g)
                                                         for t in triples))
    return graph


def write_turtle(doc: Document, annotations: Sequence[Annotation], path: Path, generator: dict | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    prefixes = {"oa": "http://www.w3.org/ns/oa#", "medkg": ns.MEDKG, "dcterms": ns.DCTERMS, "obo": ns.OBO,
                "oboInOwl": ns.OBOINOWL, "rdf": ns.RDF, "as": "http://www.w3.org/ns/activitystreams#"}
    path.write_bytes(ox.serialize(annotation_triples(doc, annotations, generator), format=ox.RdfFormat.TURTLE,
                                  prefixes=prefixes))
    return path
