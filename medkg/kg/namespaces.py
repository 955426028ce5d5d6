"""IRIs and vocabularies, in one place.

Standard vocabularies first (OBO/oboInOwl, rdfs, skos, schema.org, dcterms, PROV-O, NIF); medkg mints IRIs
only for what has none (graphs, Wikipedia sections and passages, mapping axioms), always deterministically.
"""
from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

from pyoxigraph import NamedNode

MEDKG = "https://w3id.org/medkg/"
OBO = "http://purl.obolibrary.org/obo/"
OBOINOWL = "http://www.geneontology.org/formats/oboInOwl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SCHEMA = "http://schema.org/"
DCTERMS = "http://purl.org/dc/terms/"
PROV = "http://www.w3.org/ns/prov#"
NIF = "http://persistence.uni-leipzig.org/nlp2rdf/ontologies/nif-core#"
WD = "http://www.wikidata.org/entity/"
ICD10 = "http://id.who.int/icd/release/10/2019/"
ORDO = "http://www.orpha.net/ORDO/"  # Orphanet's own class IRIs (Orphanet_586)
ATC = "http://purl.bioontology.org/ontology/ATC/"  # WHO ATC codes as BioPortal names them

PREFIXES: dict[str, str] = {
    "medkg": MEDKG, "obo": OBO, "oboInOwl": OBOINOWL, "rdf": RDF, "rdfs": RDFS, "owl": OWL, "xsd": XSD,
    "skos": SKOS, "schema": SCHEMA, "dcterms": DCTERMS, "prov": PROV, "nif": NIF, "wd": WD, "icd10": ICD10,
    "ordo": ORDO, "atc": ATC,
}


def sparql_prologue() -> str:
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


def term(namespace: str, local: str) -> NamedNode:
    return NamedNode(namespace + local)


# Frequently used predicates and classes, as pyoxigraph terms.
RDF_TYPE = term(RDF, "type")
RDFS_LABEL = term(RDFS, "label")
RDFS_SUBCLASS_OF = term(RDFS, "subClassOf")
RDFS_COMMENT = term(RDFS, "comment")
OWL_CLASS = term(OWL, "Class")
OWL_DEPRECATED = term(OWL, "deprecated")
OWL_AXIOM = term(OWL, "Axiom")
OWL_ANNOTATED_SOURCE = term(OWL, "annotatedSource")
OWL_ANNOTATED_PROPERTY = term(OWL, "annotatedProperty")
OWL_ANNOTATED_TARGET = term(OWL, "annotatedTarget")
OWL_VERSION_INFO = term(OWL, "versionInfo")
OWL_ONTOLOGY = term(OWL, "Ontology")
IAO_DEFINITION = term(OBO, "IAO_0000115")
HAS_DB_XREF = term(OBOINOWL, "hasDbXref")
HAS_OBO_NAMESPACE = term(OBOINOWL, "hasOBONamespace")
HAS_ALTERNATIVE_ID = term(OBOINOWL, "hasAlternativeId")
IN_SUBSET = term(OBOINOWL, "inSubset")
OBO_ID = term(OBOINOWL, "id")
SYNONYM_PREDICATES = {
    "EXACT": term(OBOINOWL, "hasExactSynonym"),
    "RELATED": term(OBOINOWL, "hasRelatedSynonym"),
    "BROAD": term(OBOINOWL, "hasBroadSynonym"),
    "NARROW": term(OBOINOWL, "hasNarrowSynonym"),
}
HAS_EXACT_SYNONYM = SYNONYM_PREDICATES["EXACT"]
SKOS_ALT_LABEL = term(SKOS, "altLabel")
SKOS_EXACT_MATCH = term(SKOS, "exactMatch")
SKOS_CLOSE_MATCH = term(SKOS, "closeMatch")
SCHEMA_ARTICLE = term(SCHEMA, "Article")
SCHEMA_ABOUT = term(SCHEMA, "about")
SCHEMA_NAME = term(SCHEMA, "name")
SCHEMA_DESCRIPTION = term(SCHEMA, "description")
SCHEMA_IN_LANGUAGE = term(SCHEMA, "inLanguage")
SCHEMA_IS_PART_OF = term(SCHEMA, "isPartOf")
SCHEMA_POSITION = term(SCHEMA, "position")
SCHEMA_TEXT = term(SCHEMA, "text")
SCHEMA_URL = term(SCHEMA, "url")
SCHEMA_MENTIONS = term(SCHEMA, "mentions")
SCHEMA_ALTERNATE_NAME = term(SCHEMA, "alternateName")
SCHEMA_IDENTIFIER = term(SCHEMA, "identifier")
DCTERMS_TITLE = term(DCTERMS, "title")
DCTERMS_SOURCE = term(DCTERMS, "source")
DCTERMS_LICENSE = term(DCTERMS, "license")
DCTERMS_CONTRIBUTOR = term(DCTERMS, "contributor")
DCTERMS_LANGUAGE = term(DCTERMS, "language")
PROV_ENTITY = term(PROV, "Entity")
PROV_WAS_DERIVED_FROM = term(PROV, "wasDerivedFrom")
PROV_GENERATED_AT_TIME = term(PROV, "generatedAtTime")
PROV_WAS_GENERATED_BY = term(PROV, "wasGeneratedBy")
NIF_BEGIN_INDEX = term(NIF, "beginIndex")
NIF_END_INDEX = term(NIF, "endIndex")

# medkg's own terms: only where no standard term fits.
MEDKG_PASSAGE = term(MEDKG, "Passage")
MEDKG_SECTION = term(MEDKG, "Section")
MEDKG_TRANSLATION_STATUS = term(MEDKG, "translationStatus")
MEDKG_SHARED_XREF = term(MEDKG, "sharedXref")
MEDKG_SHARED_LABEL = term(MEDKG, "sharedLabel")
MEDKG_SHA256 = term(MEDKG, "sha256")
MEDKG_READER = term(MEDKG, "reader")
MEDKG_SOURCE_FILE = term(MEDKG, "sourceFile")

GRAPH_BASE = MEDKG + "graph/"
META_GRAPH = NamedNode(GRAPH_BASE + "meta")
LINKS_GRAPH = NamedNode(GRAPH_BASE + "links")
MENTIONS_GRAPH = NamedNode(GRAPH_BASE + "mentions")
# Graph families: concept sources (ontologies, their translations, Wikidata), whose concepts relation sources
# (DO reports, Hetionet, relation dumps: graphs under RELATION_GRAPHS) are joined to.
CONCEPT_GRAPHS = tuple(GRAPH_BASE + kind + "/" for kind in ("ontology", "translations", "wikidata"))
RELATION_GRAPHS = GRAPH_BASE + "relations/"


def graph_iri(kind: str, name: str) -> NamedNode:
    """The named graph of one source: stable per (reader kind, file stem), so a reload replaces it."""
    return NamedNode(GRAPH_BASE + quote(kind, safe="") + "/" + quote(name, safe="-_."))


def obo_iri(curie: str) -> NamedNode:
    """The OBO Foundry PURL of an OBO id (``DOID:0014667`` -> ``obo:DOID_0014667``)."""
    if curie.startswith(("http://", "https://")):
        return NamedNode(curie)
    prefix, _, local = curie.partition(":")
    return NamedNode(f"{OBO}{prefix}_{local}")


def minted(kind: str, *parts: str) -> NamedNode:
    """A deterministic medkg IRI from a kind and the parts that identify the thing."""
    return NamedNode(MEDKG + "id/" + kind + "/" + "/".join(quote(p, safe="") for p in parts))


def digest(*parts: str, length: int = 16) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


# Cross-references are written one way everywhere: oboInOwl:hasDbXref "PREFIX:LOCAL" with these prefixes,
# so a UMLS CUI from DOID, HPO and Wikidata is the same literal and joins.
_XREF_PREFIX_ALIASES = {
    "UMLS_CUI": "UMLS", "UMLS": "UMLS", "MSH": "MESH", "MESH": "MESH", "MeSH": "MESH",
    "ICD10CM": "ICD10CM", "ICD-10-CM": "ICD10CM", "ICD10": "ICD10", "ICD10WHO": "ICD10", "ICD-10": "ICD10",
    "ICD9CM": "ICD9CM", "ICD9": "ICD9", "ICD-9": "ICD9", "OMIM": "OMIM", "MIM": "OMIM", "NCI": "NCIT", "NCIT": "NCIT",
    "ORDO": "ORPHA", "Orphanet": "ORPHA", "ORPHA": "ORPHA", "GARD": "GARD", "DOID": "DOID", "HP": "HP",
    "SNOMED": "SNOMEDCT", "SNOMEDCT": "SNOMEDCT", "SCTID": "SNOMEDCT", "ICDO": "ICDO", "EFO": "EFO",
    "MONDO": "MONDO", "KEGG": "KEGG", "MEDDRA": "MEDDRA", "WD": "WD",
}
_SNOMED_VERSIONED = re.compile(r"^SNOMEDCT(_US)?(_\d{4}_\d{2}_\d{2})?$", re.IGNORECASE)


def normalize_xref(raw: str) -> str | None:
    """``UMLS_CUI:C0025517`` -> ``UMLS:C0025517``; ``SNOMEDCT_US_2025_09_01:75934005`` -> ``SNOMEDCT:75934005``.

    Returns None for something that is not a ``PREFIX:LOCAL`` pair (e.g. a bare URL).
    """
    raw = raw.strip()
    prefix, sep, local = raw.partition(":")
    if not sep or not prefix or not local or local.startswith("//"):
        return None
    if _SNOMED_VERSIONED.match(prefix):
        canonical = "SNOMEDCT"
    else:
        canonical = _XREF_PREFIX_ALIASES.get(prefix) or _XREF_PREFIX_ALIASES.get(prefix.upper()) or prefix.upper()
    return f"{canonical}:{local.strip()}"
