"""SPARQL over annotations stored in the graph (see `rdf`): documents through the ontology hierarchy."""
from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from medkg.kg import namespaces as ns
from medkg.kg.store import GraphStore

INFECTIOUS_DISEASE = ns.OBO + "DOID_0050117"

# A linked concept counts when it is the class, a subclass, or matches (skos:exactMatch, either direction,
# from the graph's cross-source links) a subclass: "Polmonite" (HPO) reaches DOID's pneumonia that way.
DOCUMENTS_MENTIONING = """
PREFIX oa: <http://www.w3.org/ns/oa#>
SELECT DISTINCT ?document ?text ?concept ?assertion ?g WHERE {
  GRAPH ?g {
    ?annotation oa:hasBody ?body ; oa:hasTarget ?target .
    ?body oa:hasSource ?concept .
    ?target oa:hasSource ?document ; oa:hasSelector ?selector .
    ?selector a oa:TextQuoteSelector ; oa:exact ?text .
    OPTIONAL { ?annotation medkg:assertion ?assertion }
  }
  ?concept (skos:exactMatch|^skos:exactMatch)?/rdfs:subClassOf* ?ancestor .
} ORDER BY ?document ?text
"""


@dataclass(frozen=True)
class DocumentMention:
    document: str        # the document IRI
    text: str            # the annotated span
    concept: str         # the linked concept IRI
    assertion: str       # present / negated / …
    graph: str           # the document's named graph


def documents_mentioning(store: GraphStore, ancestor: str) -> list[DocumentMention]:
    result = store.query(DOCUMENTS_MENTIONING, bindings={"ancestor": ox.NamedNode(ancestor)})
    return [DocumentMention(row["document"].value, row["text"].value, row["concept"].value,
                            row["assertion"].value if row["assertion"] is not None else "present", row["g"].value)
            for row in result.rows]
