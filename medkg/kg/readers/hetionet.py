"""Hetionet v1.0 in its own tabular layout -> RDF: the nodes table, edge tables, PharmacotherapyDB indications.

- nodes (``id, name, kind``; id = ``Kind::identifier``): each node with its standard IRI where it has one
  (DOID, UBERON and GO as OBO PURLs; DrugBank, Entrez Gene, UMLS through identifiers.org; MeSH as NLM's own
  IRIs), its name as English label, and the identifier as a cross-reference, so Hetionet's compounds,
  symptoms and side effects join the concepts of other sources (MeSH / UMLS xrefs, DrugBank ids, labels).
- edges (``source, metaedge, target`` as in ``hetionet-v1.0-edges.sif.gz``, gzip or not; optional ``sources``
  and ``license`` columns as in the per-metaedge exports): every one of Hetionet's 24 metaedges maps to a
  relation of medkg's vocabulary; a row's own sources and licence annotate its edge.
- PharmacotherapyDB ``indications.tsv`` (``doid_id, drugbank_id, disease, drug, category``): DM (disease
  modifying) -> treats, SYM (symptomatic) -> palliates; NOT (non-indications) are not edges.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.readers.edges import IDENTIFIERS, SKOS_CONCEPT, edge_quads, node_quads
from medkg.kg.readers.tables import iter_rows, read_header

MESH = "http://id.nlm.nih.gov/mesh/"
SCHEMA_DRUG = ns.term(ns.SCHEMA, "Drug")
SO_GENE = ns.term(ns.OBO, "SO_0000704")

# metaedge abbreviation -> relation key; Hetionet's source -> target order is the relation's own direction
METAEDGES: dict[str, str] = {
    "CtD": "treats", "CpD": "palliates", "DpS": "has_symptom", "DlA": "located_in", "DaG": "associated_with",
    "DrD": "resembles", "CrC": "resembles", "CcSE": "causes_side_effect", "PCiC": "includes", "CbG": "binds",
    "CuG": "upregulates", "CdG": "downregulates", "AuG": "upregulates", "AdG": "downregulates",
    "DuG": "upregulates", "DdG": "downregulates", "AeG": "expresses", "GiG": "interacts_with",
    "GcG": "covaries_with", "Gr>G": "regulates", "GpBP": "participates_in", "GpCC": "participates_in",
    "GpMF": "participates_in", "GpPW": "participates_in",
}
INDICATION_CATEGORIES = {"DM": "treats", "SYM": "palliates"}
KINDS = ("Anatomy", "Biological Process", "Cellular Component", "Compound", "Disease", "Gene",
         "Molecular Function", "Pathway", "Pharmacologic Class", "Side Effect", "Symptom")


def node_iri(kind: str, identifier: str) -> NamedNode:
    """The IRI of a Hetionet node; kinds without a standard IRI space get a minted one."""
    if kind in ("Disease", "Anatomy", "Biological Process", "Cellular Component", "Molecular Function"):
        return ns.obo_iri(identifier)
    if kind == "Compound":
        return NamedNode(f"{IDENTIFIERS}drugbank:{identifier}")
    if kind == "Gene":
        return NamedNode(f"{IDENTIFIERS}ncbigene:{identifier}")
    if kind == "Side Effect":
        return NamedNode(f"{IDENTIFIERS}umls:{identifier}")
    if kind == "Symptom":
        return NamedNode(MESH + identifier)
    return ns.minted("hetionet", kind, identifier)


def _xrefs(kind: str, identifier: str) -> tuple[str, ...]:
    prefix = {"Compound": "DRUGBANK", "Gene": "NCBIGENE", "Side Effect": "UMLS", "Symptom": "MESH"}.get(kind)
    return (f"{prefix}:{identifier}",) if prefix else ()


def _types(kind: str) -> tuple[NamedNode, ...]:
    """OBO terms are owl:Classes; the other nodes are skos:Concepts, drugs and genes also typed as such."""
    if kind in ("Disease", "Anatomy", "Biological Process", "Cellular Component", "Molecular Function"):
        return (ns.OWL_CLASS,)
    return (SKOS_CONCEPT, *{"Compound": (SCHEMA_DRUG,), "Gene": (SO_GENE,)}.get(kind, ()))


def _split_id(value: str, path: Path, line: int) -> tuple[str, str]:
    kind, sep, identifier = value.partition("::")
    if not sep or kind not in KINDS or not identifier:
        raise MedkgError(f"not a Hetionet node id (Kind::identifier with Kind one of {', '.join(KINDS)}): "
                         f"{value!r}", path=path, line=line)
    return kind, identifier


def read_hetionet_nodes(path: Path, graph: NamedNode) -> Iterator[Quad]:
    for line, row in iter_rows(path, ("id", "name", "kind")):
        kind, identifier = _split_id(row["id"], path, line)
        if kind != row["kind"]:
            raise MedkgError(f"kind {row['kind']!r} does not match the id {row['id']!r}", path=path, line=line)
        node = node_iri(kind, identifier)
        yield from node_quads(node, graph, label=row["name"], kinds=_types(kind), xrefs=_xrefs(kind, identifier))
        uninverted = _uninvert(row["name"]) if kind == "Symptom" else None
        if uninverted:  # MeSH headings are inverted ("Pain, Intractable"); text says "intractable pain"
            yield Quad(node, ns.SKOS_ALT_LABEL, Literal(uninverted, language="en"), graph)


def _uninvert(name: str) -> str | None:
    head, sep, tail = name.partition(", ")
    if not sep or ", " in tail:
        return None
    return f"{tail} {head[0].lower()}{head[1:]}" if head[:1].isupper() and head[1:2].islower() else f"{tail} {head}"


def read_hetionet_edges(path: Path, graph: NamedNode) -> Iterator[Quad]:
    columns = set(read_header(path))
    for line, row in iter_rows(path, ("source", "metaedge", "target")):
        key = METAEDGES.get(row["metaedge"])
        if key is None:
            raise MedkgError(f"unknown Hetionet metaedge {row['metaedge']!r} (known: {', '.join(METAEDGES)})",
                             path=path, line=line)
        source = node_iri(*_split_id(row["source"], path, line))
        target = node_iri(*_split_id(row["target"], path, line))
        yield from edge_quads(source, key, target, graph,
                              sources=row.get("sources") if "sources" in columns else None,
                              licence=row.get("license") if "license" in columns else None)


def read_indications(path: Path, graph: NamedNode) -> Iterator[Quad]:
    for line, row in iter_rows(path, ("doid_id", "drugbank_id", "disease", "drug", "category")):
        if row["category"] not in (*INDICATION_CATEGORIES, "NOT"):
            raise MedkgError(f"unknown indication category {row['category']!r} (DM, SYM or NOT)", path=path,
                             line=line)
        disease = node_iri("Disease", row["doid_id"])
        drug = node_iri("Compound", row["drugbank_id"])
        yield from node_quads(drug, graph, label=row["drug"], kinds=_types("Compound"),
                              xrefs=_xrefs("Compound", row["drugbank_id"]))
        yield from node_quads(disease, graph, label=row["disease"], kinds=_types("Disease"))
        if row["category"] in INDICATION_CATEGORIES:
            yield from edge_quads(drug, INDICATION_CATEGORIES[row["category"]], disease, graph)


def hetionet_kind(header: list[str]) -> str | None:
    columns = set(header)
    if {"id", "name", "kind"} <= columns:
        return "nodes"
    if {"source", "metaedge", "target"} <= columns:
        return "edges"
    if {"doid_id", "drugbank_id", "category"} <= columns:
        return "indications"
    return None
