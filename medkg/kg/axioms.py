"""OWL axiom annotations: statements about one triple (its translation status, the xrefs a match rests on,
the licence of an edge), written the way OWL and the OBO tools write them.

    axiom = ns.minted("edge", ns.digest(s.value, p.value, o.value))
    quads = [*annotated_triple(axiom, s, p, o, graph), Quad(axiom, ns.DCTERMS_LICENSE, Literal("CC0-1.0"), graph)]
"""
from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import Literal, NamedNode, Quad

from medkg.kg import namespaces as ns


def annotated_triple(axiom: NamedNode, subject: NamedNode, predicate: NamedNode, target: NamedNode | Literal,
                     graph: NamedNode) -> Iterator[Quad]:
    """The owl:Axiom node that stands for the triple (subject, predicate, target)."""
    yield Quad(axiom, ns.RDF_TYPE, ns.OWL_AXIOM, graph)
    yield Quad(axiom, ns.OWL_ANNOTATED_SOURCE, subject, graph)
    yield Quad(axiom, ns.OWL_ANNOTATED_PROPERTY, predicate, graph)
    yield Quad(axiom, ns.OWL_ANNOTATED_TARGET, target, graph)
