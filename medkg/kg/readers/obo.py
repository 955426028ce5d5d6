"""OBO 1.4 (Disease Ontology, HPO, any OBO Foundry file) -> RDF, following the OBO-to-OWL mapping.

Terms become ``obo:PREFIX_LOCAL`` owl:Classes with rdfs:label@en, IAO:0000115 definitions, oboInOwl synonyms
by scope, normalised oboInOwl:hasDbXref literals, rdfs:subClassOf and owl:deprecated, so an OBO file and the
same ontology's OWL release load into the same shape. Parsing is fastobo's (Rust, exact error positions).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fastobo
from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns

_TRUE = Literal("true", datatype=NamedNode(ns.XSD + "boolean"))
_REPLACED_BY = ns.term(ns.OBO, "IAO_0100001")
_CONSIDER = ns.term(ns.OBOINOWL, "consider")
_MATCH_PROPERTIES = {"skos:exactMatch", "skos:closeMatch", "skos:broadMatch", "skos:narrowMatch",
                     "skos:relatedMatch"}


def _parse(path: Path):
    try:
        return fastobo.load(str(path))
    except SyntaxError as err:
        raise MedkgError(f"invalid OBO: {err.msg}", path=path, line=err.lineno, column=err.offset) from None
    except (ValueError, OSError) as err:
        raise MedkgError(f"cannot read OBO: {err}", path=path) from None


def obo_version(path: Path) -> str | None:
    """The header's data-version (or date), read without parsing the whole file."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("data-version:"):
                return line.split(":", 1)[1].strip()
            if line.startswith("["):
                break
    return None


def read_obo(path: Path, graph: NamedNode, language: str = "en") -> Iterator[Quad]:
    document = _parse(path)
    for frame in document:
        if not isinstance(frame, fastobo.term.TermFrame):
            continue  # typedefs and instances are not concepts
        yield from _term_quads(frame, graph, language)


def _term_quads(frame, graph: NamedNode, language: str) -> Iterator[Quad]:
    subject = ns.obo_iri(str(frame.id))
    yield Quad(subject, ns.RDF_TYPE, ns.OWL_CLASS, graph)
    yield Quad(subject, ns.OBO_ID, Literal(str(frame.id)), graph)
    for clause in frame:
        kind = type(clause).__name__
        if kind == "NameClause":
            yield Quad(subject, ns.RDFS_LABEL, Literal(clause.name, language=language), graph)
        elif kind == "DefClause":
            yield Quad(subject, ns.IAO_DEFINITION, Literal(clause.definition, language=language), graph)
        elif kind == "SynonymClause":
            synonym = clause.synonym
            predicate = ns.SYNONYM_PREDICATES.get(str(synonym.scope), ns.SYNONYM_PREDICATES["RELATED"])
            yield Quad(subject, predicate, Literal(synonym.desc, language=language), graph)
        elif kind == "XrefClause":
            xref = ns.normalize_xref(str(clause.xref.id))
            if xref:
                yield Quad(subject, ns.HAS_DB_XREF, Literal(xref), graph)
        elif kind == "PropertyValueClause":
            value = clause.property_value  # e.g. skos:broadMatch "ICD10CM:A96.8" xsd:string
            if str(value.relation) in _MATCH_PROPERTIES:
                xref = ns.normalize_xref(str(getattr(value, "value", "")))
                if xref:
                    yield Quad(subject, ns.HAS_DB_XREF, Literal(xref), graph)
        elif kind == "IsAClause":
            yield Quad(subject, ns.RDFS_SUBCLASS_OF, ns.obo_iri(str(clause.term)), graph)
        elif kind == "IsObsoleteClause":
            if clause.obsolete:
                yield Quad(subject, ns.OWL_DEPRECATED, _TRUE, graph)
        elif kind == "ReplacedByClause":
            yield Quad(subject, _REPLACED_BY, ns.obo_iri(str(clause.term)), graph)
        elif kind == "ConsiderClause":
            yield Quad(subject, _CONSIDER, ns.obo_iri(str(clause.term)), graph)
        elif kind == "AltIdClause":
            yield Quad(subject, ns.HAS_ALTERNATIVE_ID, Literal(str(clause.alt_id)), graph)
        elif kind == "NamespaceClause":
            yield Quad(subject, ns.HAS_OBO_NAMESPACE, Literal(str(clause.namespace)), graph)
        elif kind == "SubsetClause":
            yield Quad(subject, ns.IN_SUBSET, Literal(str(clause.subset)), graph)
        elif kind == "CommentClause":
            yield Quad(subject, ns.RDFS_COMMENT, Literal(clause.raw_value()), graph)
