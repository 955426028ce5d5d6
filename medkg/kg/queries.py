"""Saved queries: the questions people ask of a medical graph, with parameters bound as RDF terms.

Parameters never become query text: a concept becomes an IRI term, a label a string literal, both bound by a
VALUES block (see ``bind_as_values``), so a label with quotes, braces or ``} ; DROP ALL`` is just a label.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.store import GraphStore, QueryResult, bind_as_values

_NAME_PREDICATES = ("rdfs:label skos:altLabel skos:prefLabel oboInOwl:hasExactSynonym oboInOwl:hasRelatedSynonym "
                    "oboInOwl:hasBroadSynonym oboInOwl:hasNarrowSynonym")
# A concept's English name, whichever source gave it.
_EN_LABEL = "OPTIONAL { {var} rdfs:label ?{out} FILTER(LANGMATCHES(LANG(?{out}), 'en')) }"


def _label(var: str, out: str) -> str:
    return _EN_LABEL.replace("{var}", var).replace("{out}", out)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # concept | text | lang | xref
    help: str
    required: bool = True


@dataclass(frozen=True)
class SavedQuery:
    name: str
    description: str
    params: tuple[Param, ...]
    sparql: str
    example: dict[str, str] = field(default_factory=dict, hash=False)  # arguments that answer on the demo graph


_CONCEPT = Param("concept", "concept", "a CURIE (DOID:399, HP:0001945, wd:Q12204) or an IRI")

SAVED_QUERIES: dict[str, SavedQuery] = {q.name: q for q in [
    SavedQuery(
        "concept-by-label",
        "Concepts whose label or synonym is this text (case-insensitive), in a language or any.",
        (Param("text", "text", "the name to look up"),
         Param("lang", "lang", "language tag such as en, it, es (default: any)", required=False)),
        f"""SELECT DISTINCT ?concept ?name ?via ?label_en WHERE {{
  VALUES ?via {{ {_NAME_PREDICATES} }}
  ?concept ?via ?name .
  # Cheapest tests first; MINUS rather than FILTER NOT EXISTS, which Oxigraph evaluates for every name.
  FILTER(isLiteral(?name) && STRLEN(?name) = STRLEN(?text)
         && (STR(?lang) = "" || LANGMATCHES(LANG(?name), STR(?lang)))
         && LCASE(STR(?name)) = LCASE(STR(?text)))
  MINUS {{ ?concept a schema:Article }}
  {_label("?concept", "label_en")}
}} ORDER BY ?concept ?via""",
        {"text": "Tubercolosi", "lang": "it"}),
    SavedQuery(
        "labels",
        "Every name of a concept, per language, with the translation status where one is recorded.",
        (_CONCEPT,),
        f"""SELECT ?lang ?via ?name ?status WHERE {{
  VALUES ?via {{ {_NAME_PREDICATES} }}
  ?concept ?via ?name .
  BIND(LANG(?name) AS ?lang)
  OPTIONAL {{ ?axiom owl:annotatedSource ?concept ; owl:annotatedProperty ?via ; owl:annotatedTarget ?name ;
                    medkg:translationStatus ?status }}
}} ORDER BY ?lang ?via ?name""",
        {"concept": "HP:0001945"}),
    SavedQuery(
        "by-xref",
        "Concepts carrying a cross-reference, e.g. ICD10CM:A15.0, UMLS:C0041296, MESH:D014376.",
        (Param("xref", "xref", "PREFIX:CODE (UMLS_CUI:, MSH: and versioned SNOMED prefixes are normalised)"),),
        f"""SELECT DISTINCT ?concept ?label_en WHERE {{
  ?concept oboInOwl:hasDbXref ?xref .
  {_label("?concept", "label_en")}
}} ORDER BY ?concept""",
        {"xref": "ICD10CM:B54"}),
    SavedQuery(
        "xrefs",
        "The cross-references of a concept (ICD-10, UMLS, MeSH, SNOMED, OMIM, ...).",
        (_CONCEPT,),
        """SELECT ?xref WHERE { ?concept oboInOwl:hasDbXref ?xref } ORDER BY ?xref""",
        {"concept": "DOID:399"}),
    SavedQuery(
        "ancestors",
        "All superclasses of a concept, nearest first by depth.",
        (_CONCEPT,),
        f"""SELECT ?ancestor ?label_en (COUNT(DISTINCT ?mid) AS ?depth) WHERE {{
  ?concept rdfs:subClassOf+ ?ancestor .
  ?concept rdfs:subClassOf* ?mid . ?mid rdfs:subClassOf+ ?ancestor .
  {_label("?ancestor", "label_en")}
}} GROUP BY ?ancestor ?label_en ORDER BY ?depth ?ancestor""",
        {"concept": "DOID:8622"}),
    SavedQuery(
        "descendants",
        "All subclasses of a concept.",
        (_CONCEPT,),
        f"""SELECT DISTINCT ?descendant ?label_en WHERE {{
  ?descendant rdfs:subClassOf+ ?concept .
  {_label("?descendant", "label_en")}
}} ORDER BY ?descendant""",
        {"concept": "DOID:0050117"}),
    SavedQuery(
        "equivalents",
        "Concepts in other sources matched to this one, with the shared cross-references as evidence.",
        (_CONCEPT,),
        f"""SELECT ?match ?relation ?label_en (GROUP_CONCAT(DISTINCT ?xref; SEPARATOR=" ") AS ?evidence) WHERE {{
  VALUES ?relation {{ skos:exactMatch skos:closeMatch }}
  {{ ?concept ?relation ?match }} UNION {{ ?match ?relation ?concept }}
  OPTIONAL {{ ?axiom owl:annotatedProperty ?relation ; medkg:sharedXref ?xref ;
                     owl:annotatedSource|owl:annotatedTarget ?concept , ?match . FILTER(?match != ?concept) }}
  {_label("?match", "label_en")}
}} GROUP BY ?match ?relation ?label_en ORDER BY ?relation ?match""",
        {"concept": "wd:Q12204"}),
    SavedQuery(
        "passages",
        "Wikipedia passages that mention a concept, its exact matches in other sources, or any of their "
        "descendants.",
        (_CONCEPT,),
        """SELECT DISTINCT ?passage ?article ?mentioned ?text WHERE {
  ?concept (skos:exactMatch|^skos:exactMatch)? ?same .
  ?mentioned rdfs:subClassOf* ?same .
  ?passage schema:mentions ?mentioned ; schema:text ?text ; schema:isPartOf ?article .
  ?article a schema:Article .
} ORDER BY ?article ?passage""",
        {"concept": "DOID:8622"}),
    SavedQuery(
        "articles",
        "Wikipedia articles about a concept, in any language, through Wikidata and the cross-source matches.",
        (_CONCEPT,),
        """SELECT DISTINCT ?article ?lang ?title WHERE {
  ?concept (skos:exactMatch|^skos:exactMatch)? ?item .
  ?article schema:about ?item ; schema:inLanguage ?lang .
  OPTIONAL { ?article schema:name ?title }
} ORDER BY ?lang ?article""",
        {"concept": "DOID:399"}),
]}

_CURIE = re.compile(r"^([A-Za-z][\w.-]*):([^\s<>\"{}|\\^`]+)$")
_LANG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")


def concept_term(value: str) -> NamedNode:
    """A concept reference as an IRI: full IRIs, wd:Q… / bare Q ids, known prefixes, or OBO CURIEs."""
    value = value.strip()
    try:
        if value.startswith("<") and value.endswith(">"):
            return NamedNode(value[1:-1])
        if value.startswith(("http://", "https://")):
            return NamedNode(value)
        if re.fullmatch(r"Q[1-9]\d*", value):
            return NamedNode(ns.WD + value)
        match = _CURIE.match(value)
        if match:
            prefix, local = match.groups()
            if prefix in ns.PREFIXES:
                return NamedNode(ns.PREFIXES[prefix] + local)
            return ns.obo_iri(value)
    except ValueError as err:
        raise MedkgError(f"not a valid IRI: {value!r} ({err})") from None
    raise MedkgError(f"not a concept reference: {value!r} (expected e.g. DOID:399, HP:0001945, wd:Q12204 or an IRI)")


def bind_arguments(query: SavedQuery, arguments: dict[str, str]) -> dict[str, NamedNode | Literal]:
    known = {p.name for p in query.params}
    unknown = sorted(set(arguments) - known)
    if unknown:
        raise MedkgError(f"{query.name}: unknown parameter(s) {', '.join(unknown)} "
                         f"(expected: {', '.join(p.name for p in query.params)})")
    bound: dict[str, NamedNode | Literal] = {}
    for param in query.params:
        value = arguments.get(param.name)
        if value is None or value == "":
            if param.required:
                raise MedkgError(f"{query.name}: missing parameter {param.name!r} ({param.help})")
            value = ""
        if param.kind == "concept":
            bound[param.name] = concept_term(value)
        elif param.kind == "lang":
            if value and not _LANG.match(value):
                raise MedkgError(f"{query.name}: {value!r} is not a language tag")
            bound[param.name] = Literal(value.lower())
        elif param.kind == "xref":
            normalised = ns.normalize_xref(value)
            if normalised is None:
                raise MedkgError(f"{query.name}: {value!r} is not PREFIX:CODE")
            bound[param.name] = Literal(normalised)
        else:
            bound[param.name] = Literal(value)
    return bound


def example_sparql(query: SavedQuery) -> str:
    """The query with its example arguments bound, ready to paste into an editor and run on any store: IRIs
    with BIND, literals in a VALUES block (Virtuoso ignores a VALUES-bound IRI at the start of a `?` or `*`
    path and returns every passage for "passages"; see `bind_as_values`)."""
    return bind_as_values(query.sparql, bind_arguments(query, query.example), as_bind=True)


def saved_query(name: str) -> SavedQuery:
    if name not in SAVED_QUERIES:
        raise MedkgError(f"no saved query {name!r} (known: {', '.join(SAVED_QUERIES)})")
    return SAVED_QUERIES[name]


def run_saved(store: GraphStore, name: str, timeout: float | None = None, **arguments: str) -> QueryResult:
    """Run a saved query by name: ``run_saved(store, "concept-by-label", text="Tubercolosi", lang="it")``."""
    query = saved_query(name)
    return store.query(query.sparql, bindings=bind_arguments(query, arguments), timeout=timeout)
