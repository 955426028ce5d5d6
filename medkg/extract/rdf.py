"""Annotations as RDF in the graph: one named graph per document, so SPARQL reaches documents through the
ontologies (`?a oa:hasBody/oa:hasSource ?c . ?c rdfs:subClassOf* obo:DOID_0050117`).

The triples are exactly the JSON-LD export's (parsed offline by Oxigraph with the W3C context swapped for
its local copy), so the file and the graph never disagree. Re-annotating a document replaces its graph.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

import pyoxigraph as ox

from medkg.extract.export import offline_jsonld, to_web_annotations
from medkg.extract.records import Annotation, Document
from medkg.kg import namespaces as ns

ANNOTATIONS_GRAPH_PREFIX = ns.MEDKG + "graph/annotations/"


def document_graph(doc: Document) -> ox.NamedNode:
    return ox.NamedNode(ANNOTATIONS_GRAPH_PREFIX + quote(doc.id, safe=""))


def annotation_triples(doc: Document, annotations: Sequence[Annotation], generator: dict | None = None) -> list:
    data = offline_jsonld(to_web_annotations(doc, annotations, generator))
    return [quad.triple for quad in ox.parse(json.dumps(data).encode("utf-8"), ox.RdfFormat.JSON_LD)]


def store_annotations(store, doc: Document, annotations: Sequence[Annotation],
                      generator: dict | None = None) -> ox.NamedNode:
    """Replace the document's named graph with its annotations; returns the graph's name."""
    triples = annotation_triples(doc, annotations, generator)
    graph = document_graph(doc)
    store.replace_graph(graph, lambda g: store.add_quads(ox.Quad(t.subject, t.predicate, t.object, g)
                                                         for t in triples))
    return graph


def write_turtle(doc: Document, annotations: Sequence[Annotation], path: Path, generator: dict | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    prefixes = {"oa": "http://www.w3.org/ns/oa#", "medkg": ns.MEDKG, "dcterms": ns.DCTERMS, "obo": ns.OBO,
                "oboInOwl": ns.OBOINOWL, "rdf": ns.RDF, "as": "https://www.w3.org/ns/activitystreams#"}
    path.write_bytes(ox.serialize(annotation_triples(doc, annotations, generator), format=ox.RdfFormat.TURTLE,
                                  prefixes=prefixes))
    return path
