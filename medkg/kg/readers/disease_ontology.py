"""Human Disease Ontology reports (the TSVs in DO's ``DOreports/``) -> RDF.

- ``HumanDO.tsv`` (id, label, subClassOf as the parent's label): every DOID with its label and parents; the
  parent label is resolved within the file itself.
- ``allXREFinDO.tsv`` and the per-vocabulary ``*inDO.tsv`` (id, label, xref[s]): normalised cross-references,
  which join DOIDs to MeSH, UMLS, ICD-10, OMIM and Orphanet concepts of other sources.
- ``requested/disease-symptom.tsv``: disease —has symptom→ SYMP term; ``requested/DO-ICDO-anatomy.tsv``:
  disease —is located in→ UBERON term.
- typed edges already resolved to target ids (``doid, disease_label, relation, target_id, target_prefix,
  target_label``), as derived from DO's logical axioms.
- ``DO-subClassOf-anonymous.tsv``: the axioms themselves in OWL Manchester syntax, targets named by label
  (``'has symptom' some fever``); labels are resolved against the graph, the rest is reported.

Edge targets (SYMP, UBERON, NCBITaxon, ...) get the label the report gives them, so they are concepts of the
graph that questions and passages can name.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.readers.context import ReadContext
from medkg.kg.readers.edges import curie_node, edge_quads, node_quads
from medkg.kg.readers.tables import iter_rows, read_header

# DO's relation names, as its derived tables and its Manchester syntax spell them -> medkg relation keys.
DO_RELATIONS = {
    "has_material_basis_in": "has_material_basis_in", "has material basis in": "has_material_basis_in",
    "has_symptom": "has_symptom", "has symptom": "has_symptom",
    "located_in": "located_in", "disease has location": "located_in",
    "has_basis_in": "has_basis_in", "disease has basis in": "has_basis_in",
    "derives_from": "derives_from", "derives from": "derives_from",
    "existence_starts_during": "existence_starts_during", "existence starts during": "existence_starts_during",
    "has_major_susceptibility_factor": "has_major_susceptibility_factor",
    "has major susceptibility factor": "has_major_susceptibility_factor",
    "transmitted_by": "transmitted_by", "transmitted by": "transmitted_by",
    "has_phenotype": "has_phenotype", "has phenotype": "has_phenotype",
    "has_feature": "has_feature", "disease has feature": "has_feature",
    "has_allergic_trigger": "has_allergic_trigger", "has allergic trigger": "has_allergic_trigger",
    "has_disease_driver": "has_disease_driver", "has disease driver": "has_disease_driver",
}
# The ontology DO takes each relation's targets from (as its derived tables show), to pick the right one of
# several concepts that share a label ("fever" is an HPO phenotype and a SYMP symptom).
TARGET_ONTOLOGIES = {
    "has_symptom": ("SYMP",), "located_in": ("UBERON", "CL"), "has_material_basis_in": ("GENO", "NCBITaxon", "CL", "SO"),
    "has_basis_in": ("HP", "SO", "SYMP"), "existence_starts_during": ("HP",), "derives_from": ("CL", "UBERON"),
    "transmitted_by": ("TRANS", "NCBITaxon"), "has_phenotype": ("HP",), "has_feature": ("DOID",),
    "has_allergic_trigger": ("CHEBI", "FOODON", "NCBITaxon"), "has_disease_driver": ("CHEBI", "DISDRIV"),
    "has_major_susceptibility_factor": ("MIM",),
}
_DOID = re.compile(r"^DOID[:_](\d+)$")
_CURIE = re.compile(r"^[A-Za-z][\w.-]*:[\w.-]+$")


def _doid(value: str, path: Path, line: int) -> NamedNode:
    match = _DOID.match(value)
    if not match:
        raise MedkgError(f"not a DOID: {value!r}", path=path, line=line)
    return ns.obo_iri(f"DOID:{match.group(1)}")  # DO-ICDO-anatomy spells a few as DOID_0081281


def _term(node: NamedNode, curie: str, label: str, graph: NamedNode) -> Iterator[Quad]:
    if node.value.startswith(ns.OBO):  # the id as the node spells it (DOID_0081281 -> DOID:0081281)
        curie = node.value[len(ns.OBO):].replace("_", ":", 1)
    yield Quad(node, ns.RDF_TYPE, ns.OWL_CLASS, graph)
    yield Quad(node, ns.OBO_ID, Literal(curie), graph)
    yield from node_quads(node, graph, label=label or None)


# -- terms, xrefs ---------------------------------------------------------------------------------------------

def read_do_terms(path: Path, graph: NamedNode, context: ReadContext) -> Iterator[Quad]:
    """HumanDO.tsv: each DOID, its label and its parents (a parent named by a label this file defines; the
    root, "disease", is not a row of its own, so its children are reported rather than guessed)."""
    rows = list(iter_rows(path, ("id", "label", "subClassOf")))
    by_label: dict[str, set[str]] = defaultdict(set)
    for line, row in rows:
        _doid(row["id"], path, line)
        by_label[row["label"].lower()].add(row["id"])
    for line, row in rows:
        node = ns.obo_iri(row["id"])
        yield from _term(node, row["id"], row["label"], graph)
        parent = row["subClassOf"]
        if not parent:
            continue
        ids = by_label.get(parent.lower(), set())
        if len(ids) == 1:
            yield Quad(node, ns.RDFS_SUBCLASS_OF, ns.obo_iri(next(iter(ids))), graph)
        else:
            context.unresolved("parent", parent)


def read_do_xrefs(path: Path, graph: NamedNode) -> Iterator[Quad]:
    """allXREFinDO.tsv, MESHinDO.tsv, ...: one cross-reference per row."""
    column = "xref" if "xref" in read_header(path) else "xrefs"
    for line, row in iter_rows(path, ("id", "label", column)):
        node = _doid(row["id"], path, line)
        yield from _term(node, row["id"], row["label"], graph)
        for raw in row[column].split("|"):
            xref = ns.normalize_xref(raw)
            if xref:
                yield Quad(node, ns.HAS_DB_XREF, Literal(xref), graph)


# -- edges ----------------------------------------------------------------------------------------------------

def _edge_rows(path: Path, graph: NamedNode, key: str, source: tuple[str, str], target: tuple[str, str],
               xrefs: str | None = None) -> Iterator[Quad]:
    (sid, slabel), (tid, tlabel) = source, target
    for line, row in iter_rows(path, (sid, slabel, tid, tlabel) + ((xrefs,) if xrefs else ())):
        disease = _doid(row[sid], path, line)
        yield from _term(disease, row[sid], row[slabel], graph)
        for raw in row[xrefs].split("|") if xrefs else ():
            xref = ns.normalize_xref(raw)
            if xref:
                yield Quad(disease, ns.HAS_DB_XREF, Literal(xref), graph)
        if not row[tid]:
            continue  # a disease listed without a target (DO-ICDO-anatomy lists every disease)
        if not _CURIE.match(row[tid]):
            raise MedkgError(f"not a CURIE: {row[tid]!r}", path=path, line=line)
        node = curie_node(row[tid])
        yield from _term(node, row[tid], row[tlabel], graph)
        yield from edge_quads(disease, key, node, graph)


def read_do_symptoms(path: Path, graph: NamedNode) -> Iterator[Quad]:
    """requested/disease-symptom.tsv: disease —has symptom→ SYMP term."""
    return _edge_rows(path, graph, "has_symptom", ("disease_id", "disease_label"), ("symptom_id", "symptom_label"))


def read_do_anatomy(path: Path, graph: NamedNode) -> Iterator[Quad]:
    """requested/DO-ICDO-anatomy.tsv: disease —is located in→ UBERON term (and its ICD-O codes)."""
    return _edge_rows(path, graph, "located_in", ("id", "label"), ("anatomy_id", "anatomy_label"), xrefs="xrefs")


def read_do_relations(path: Path, graph: NamedNode, context: ReadContext) -> Iterator[Quad]:
    """Typed disease -> target edges whose targets are already ids (rows without one are reported)."""
    for line, row in iter_rows(path, ("doid", "disease_label", "relation", "target_id", "target_label")):
        key = DO_RELATIONS.get(row["relation"])
        if key is None:
            raise MedkgError(f"unknown Disease Ontology relation {row['relation']!r} "
                             f"(known: {', '.join(sorted(k for k in DO_RELATIONS if '_' in k))})", path=path, line=line)
        disease = _doid(row["doid"], path, line)
        yield from _term(disease, row["doid"], row["disease_label"], graph)
        if not row["target_id"]:
            context.unresolved(f"{row['relation']} target", row["target_label"])
            continue
        if not _CURIE.match(row["target_id"]):
            raise MedkgError(f"not a CURIE: {row['target_id']!r}", path=path, line=line)
        node = curie_node(row["target_id"])
        yield from _term(node, row["target_id"], row["target_label"], graph)
        yield from edge_quads(disease, key, node, graph)


# -- Manchester syntax ---------------------------------------------------------------------------------------

_EXISTENTIAL = re.compile(r"^(?:'(?P<quoted>[^']+)'|(?P<bare>[\w-]+))\s+some\s+(?P<target>.+)$")


def parse_existential(axiom: str) -> tuple[str, str] | None:
    """``'has symptom' some fever`` -> ("has symptom", "fever"); None for nested or other class expressions."""
    match = _EXISTENTIAL.match(axiom.strip())
    if not match:
        return None
    target = match.group("target").strip()
    if target.startswith("("):
        return None
    if target.startswith("'"):
        if not (target.endswith("'") and target.count("'") == 2):
            return None
        target = target[1:-1]
    elif " " in target:
        return None
    return match.group("quoted") or match.group("bare"), target


def read_do_axioms(path: Path, graph: NamedNode, context: ReadContext) -> Iterator[Quad]:
    """DO-subClassOf-anonymous.tsv: ``'relation' some target`` axioms; targets resolved by label."""
    unparsed = 0
    for line, row in iter_rows(path, ("ID", "LABEL", "SubClass Of [ANON]")):
        disease = _doid(row["ID"], path, line)
        yield from _term(disease, row["ID"], row["LABEL"], graph)
        for axiom in filter(None, (a.strip() for a in row["SubClass Of [ANON]"].split("|"))):
            parsed = parse_existential(axiom)
            key = DO_RELATIONS.get(parsed[0]) if parsed else None
            if key is None:
                unparsed += 1
                continue
            prefixes = tuple(f"{ns.OBO}{p}_" for p in TARGET_ONTOLOGIES.get(key, ()))
            target = context.resolve(f"{parsed[0]!r} target", parsed[1], prefixes or None)
            if target is not None:
                yield from edge_quads(disease, key, NamedNode(target), graph)
    if unparsed:
        context.note(f"{unparsed:,} axiom(s) are nested class expressions or use relations outside medkg's "
                     "vocabulary; kept out")


# -- which report is this ----------------------------------------------------------------------------------

def do_report_kind(header: list[str]) -> str | None:
    columns = set(header)
    if {"id", "label", "subClassOf"} <= columns:
        return "terms"
    if {"id", "label"} <= columns and columns & {"xref", "xrefs"} and "anatomy_id" not in columns:
        return "xrefs"
    if {"disease_id", "symptom_id", "symptom_label"} <= columns:
        return "symptoms"
    if {"id", "anatomy_id", "anatomy_label"} <= columns:
        return "anatomy"
    if {"doid", "relation", "target_id", "target_label"} <= columns:
        return "relations"
    if {"ID", "LABEL", "SubClass Of [ANON]"} <= columns:
        return "axioms"
    return None
