"""Orphanet rare diseases with their Italian names (Orphadata's Italian product, as a TSV) -> RDF classes.

``orphanet_rare_diseases_it.tsv`` (``orpha_code, name, disorder_type, disorder_group, prevalence_class, ...``):
each OrphaCode becomes a class under ORDO's own IRIs (``http://www.orpha.net/ORDO/Orphanet_586``) with its
Italian name as label, the code as skos:notation and as a normalised ``ORPHA:586`` xref (the literal that the
Disease Ontology's ``xref: ORDO:586`` becomes, so the two sources share it), and its kind as
schema:additionalType literals, as Wikidata items carry theirs: "disease" and Orphanet's Italian disorder
type ("Malattia", "Sindrome malformativa", "Sottotipo clinico", ...), for schemas to pick dictionary names by.

    medkg kg load ../shared/data/ontologies/orphanet_it

Names and codes are the point: the epidemiology columns (first prevalence record only, per the file's
provenance) and the expert-page links are left out. Attribution: "Orphanet: an online database on rare
diseases and orphan drugs. © INSERM. Orphadata, CC BY 4.0".
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.readers.tables import iter_rows

COLUMNS = ("orpha_code", "name", "disorder_type")
_NOTATION = ns.term(ns.SKOS, "notation")
_KIND = ns.term(ns.SCHEMA, "additionalType")
_CODE = re.compile(r"^[1-9][0-9]*$")  # not str.isdigit, which takes "²" and Arabic-Indic digits


def orpha_iri(code: str) -> NamedNode:
    return NamedNode(f"{ns.ORDO}Orphanet_{code}")


def read_orphanet_it(path: Path, graph: NamedNode) -> Iterator[Quad]:
    for line, row in iter_rows(path, COLUMNS):
        code, name = row["orpha_code"], row["name"]
        if not _CODE.match(code):
            raise MedkgError(f"not an OrphaCode (digits): {code!r}", path=path, line=line)
        if not name:
            raise MedkgError(f"OrphaCode {code} has no name", path=path, line=line)
        node = orpha_iri(code)
        yield Quad(node, ns.RDF_TYPE, ns.OWL_CLASS, graph)
        yield Quad(node, ns.RDFS_LABEL, Literal(name, language="it"), graph)
        yield Quad(node, _NOTATION, Literal(code), graph)
        yield Quad(node, ns.HAS_DB_XREF, Literal(ns.normalize_xref(f"ORPHA:{code}")), graph)
        for kind in ("disease", row["disorder_type"]):
            if kind:
                yield Quad(node, _KIND, Literal(kind), graph)


def is_orphanet_table(header: list[str]) -> bool:
    return set(COLUMNS) <= set(header)
