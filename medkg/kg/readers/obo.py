"""OBO 1.4 (Disease Ontology, HPO, any OBO Foundry file) -> RDF, following the OBO-to-OWL mapping.

Terms become ``obo:PREFIX_LOCAL`` owl:Classes with rdfs:label@en, IAO:0000115 definitions, oboInOwl synonyms
by scope, normalised oboInOwl:hasDbXref literals, rdfs:subClassOf and owl:deprecated, so an OBO file and the
same ontology's OWL release load into the same shape. Parsing is fastobo's (Rust, exact error positions).

``relationship: R X`` lines become what OWL releases say, ``C rdfs:subClassOf [owl:Restriction ;
owl:onProperty R ; owl:someValuesFrom X]``, plus the direct edge ``C R X`` that medkg's queries and path
search walk (the same edge `medkg.kg.restrictions` derives from an OWL file). A relation's IRI follows the
OBO-to-OWL rules: a prefixed id (``RO:0002452``) is its PURL; a shorthand (``has_symptom``) takes the
prefixed id its [Typedef] stanza cross-references, else the IRI of the medkg relation of that name, else
``obo:<ontology>#<shorthand>``.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fastobo
from pyoxigraph import BlankNode, Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.readers.edges import OWL_ON_PROPERTY, OWL_RESTRICTION, OWL_SOME_VALUES_FROM
from medkg.kg.relations import OWL_OBJECT_PROPERTY, relation

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
    relations = _relation_iris(document)
    for frame in document:
        if isinstance(frame, fastobo.typedef.TypedefFrame):
            yield from _typedef_quads(frame, relations, graph, language)
        elif isinstance(frame, fastobo.term.TermFrame):
            yield from _term_quads(frame, relations, graph, language)


def _relation_iris(document) -> dict[str, NamedNode]:
    """Typedef id -> the relation's IRI (see the module docstring for the rules)."""
    ontology = next((str(h.ontology) for h in document.header if type(h).__name__ == "OntologyClause"), "")
    iris: dict[str, NamedNode] = {}
    for frame in document:
        if not isinstance(frame, fastobo.typedef.TypedefFrame):
            continue
        ident = str(frame.id)
        if ":" in ident:
            iris[ident] = ns.obo_iri(ident)
            continue
        xref = next((str(c.xref.id) for c in frame if type(c).__name__ == "XrefClause" and ":" in str(c.xref.id)),
                    None)
        iris[ident] = ns.obo_iri(xref) if xref else _shorthand_iri(ident, ontology)
    return iris


def _shorthand_iri(ident: str, ontology: str) -> NamedNode:
    try:
        return NamedNode(relation(ident).iri)
    except KeyError:
        return NamedNode(f"{ns.OBO}{ontology}#{ident}")


def _relation(ident: str, relations: dict[str, NamedNode]) -> NamedNode:
    if ident in relations:
        return relations[ident]
    return ns.obo_iri(ident) if ":" in ident else _shorthand_iri(ident, "")


def _typedef_quads(frame, relations: dict[str, NamedNode], graph: NamedNode, language: str) -> Iterator[Quad]:
    subject = relations[str(frame.id)]
    yield Quad(subject, ns.RDF_TYPE, OWL_OBJECT_PROPERTY, graph)
    for clause in frame:
        if type(clause).__name__ == "NameClause":
            yield Quad(subject, ns.RDFS_LABEL, Literal(clause.name, language=language), graph)


def _restriction_quads(subject: NamedNode, predicate: NamedNode, target: NamedNode, graph: NamedNode
                       ) -> Iterator[Quad]:
    restriction = BlankNode()
    yield Quad(subject, ns.RDFS_SUBCLASS_OF, restriction, graph)
    yield Quad(restriction, ns.RDF_TYPE, OWL_RESTRICTION, graph)
    yield Quad(restriction, OWL_ON_PROPERTY, predicate, graph)
    yield Quad(restriction, OWL_SOME_VALUES_FROM, target, graph)
    yield Quad(subject, predicate, target, graph)


def _term_quads(frame, relations: dict[str, NamedNode], graph: NamedNode, language: str) -> Iterator[Quad]:
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
        elif kind == "RelationshipClause":
            yield from _restriction_quads(subject, _relation(str(clause.typedef), relations),
                                          ns.obo_iri(str(clause.term)), graph)
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
