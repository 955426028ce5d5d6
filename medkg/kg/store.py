"""Graph stores: embedded Oxigraph on disk (through rdflib) or any remote SPARQL 1.1 endpoint.

Both speak pyoxigraph terms and quads, so readers, saved queries and the HTTP endpoint are written once.
Loading a source replaces one named graph as a unit: a failed load leaves the store as it was.
"""
from __future__ import annotations

import concurrent.futures
import gc
import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from medkg.errors import MedkgError, QueryTimeout  # noqa: F401 - QueryTimeout is re-exported
from medkg.kg.namespaces import GRAPH_BASE, MEDKG, PREFIXES

ResultFormat = ox.QueryResultsFormat
# Loads and graph swaps are not user queries: they get an hour, not the query timeout.
MAINTENANCE_TIMEOUT = 3600.0
# A changed source fills "<graph>/.staging" before it replaces "<graph>" (see `GraphStore.replace_graph`).
STAGING_SUFFIX = "/.staging"


@dataclass
class QueryResult:
    """A materialised SPARQL result: rows of a SELECT, the answer of an ASK, or the triples of a CONSTRUCT."""

    kind: str  # "select" | "ask" | "graph"
    variables: list[str] = field(default_factory=list)
    rows: list[dict[str, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple]] = field(default_factory=list)
    boolean: bool | None = None
    triples: list[ox.Triple] = field(default_factory=list)

    def values(self, variable: str) -> list[str]:
        """The plain values of one column (IRIs as strings, literals as their lexical form)."""
        return [row[variable].value for row in self.rows if variable in row]


def _query_kind(sparql: str) -> str:
    body = re.sub(r"#[^\n]*", " ", sparql)
    body = re.sub(r"(?is)^\s*((BASE\s*<[^>]*>|PREFIX\s+[\w.-]*:\s*<[^>]*>)\s*)*", "", body)
    head = body.lstrip()[:9].upper()
    if head.startswith("ASK"):
        return "ask"
    if head.startswith(("CONSTRUCT", "DESCRIBE")):
        return "graph"
    return "select"


def bind_as_values(sparql: str, bindings: dict[str, ox.NamedNode | ox.Literal], *, as_bind: bool = False) -> str:
    """Bind variables with a VALUES block opening the WHERE clause; terms are serialised by pyoxigraph.

    Each value is written as an RDF term (escaped N-Triples syntax), never pasted as query text, so a label
    such as ``"} ; DROP ALL #`` stays one string literal. The block goes inside the WHERE pattern (not after
    the query) so it constrains the pattern before any aggregation or projection.

    ``as_bind`` writes ``BIND(iri AS ?var)`` for IRIs instead, which means the same for one row of values.
    Remote stores get it: Virtuoso does not take a VALUES-bound variable as the start of a property path with
    ``?`` or ``*`` (it fails with "transitive start not given", or ignores the binding), but does a BIND. Literals
    stay in VALUES: Virtuoso 7.2 fails to compile a BIND-ed literal used as an object ("no SPART_VARR_FIXED").
    """
    if not bindings:
        return sparql
    opening = re.search(r"(?i)\bWHERE\s*\{", sparql) or re.search(r"\{", sparql)
    if opening is None:
        raise MedkgError("cannot bind parameters: the query has no WHERE pattern")
    bound = {name: value for name, value in bindings.items() if as_bind and isinstance(value, ox.NamedNode)}
    listed = {name: value for name, value in bindings.items() if name not in bound}
    parts = [f"BIND({value} AS ?{name})" for name, value in bound.items()]
    if listed:
        names = " ".join(f"?{name}" for name in listed)
        terms = " ".join(str(value) for value in listed.values())
        parts.append(f"VALUES ({names}) {{ ({terms}) }}")
    block = " ".join(parts)
    at = opening.end()
    # on a line of its own, so the query still reads well where a person sees it (the explorer's editor)
    return f"{sparql[:at]}\n  {block}{sparql[at:]}"


def _check_bindings(bindings: dict[str, object] | None) -> dict[str, ox.NamedNode | ox.Literal]:
    checked = {}
    for name, value in (bindings or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise MedkgError(f"invalid SPARQL variable name {name!r}")
        if not isinstance(value, (ox.NamedNode, ox.Literal)):
            raise MedkgError(f"binding for ?{name} must be an IRI or a literal, not {type(value).__name__}")
        checked[name] = value
    return checked


class GraphStore(ABC):
    """What medkg needs of an RDF store; one implementation per back-end."""

    query_timeout: float

    @abstractmethod
    def query(self, sparql: str, *, bindings: dict[str, object] | None = None,
              timeout: float | None = None) -> QueryResult: ...

    @abstractmethod
    def query_serialized(self, sparql: str, *, results_format: ResultFormat, graph_format: ox.RdfFormat,
                         bindings: dict[str, object] | None = None, timeout: float | None = None
                         ) -> tuple[bytes, str]:
        """Run a query and return (body, media type), as the SPARQL protocol answers it."""

    @abstractmethod
    def update(self, sparql: str, *, timeout: float | None = None) -> None: ...

    @abstractmethod
    def named_graphs(self) -> list[str]: ...

    @abstractmethod
    def add_quads(self, quads: Iterable[ox.Quad]) -> None:
        """Add quads without a transaction (fast path for loading a fresh graph)."""

    @abstractmethod
    def load_rdf_file(self, path: Path, rdf_format: ox.RdfFormat, graph: ox.NamedNode) -> None:
        """Bulk-load an RDF file into one graph; raise MedkgError with the line on a syntax error."""

    def close(self) -> None:  # pragma: no cover - trivial default
        pass

    # -- shared logic -------------------------------------------------------------------------------------

    def has_graph(self, graph: ox.NamedNode) -> bool:
        return graph.value in set(self.named_graphs())

    def quad_count(self) -> int | None:
        """Quads in the whole store, where the back-end counts them cheaply (None otherwise)."""
        return None

    def drop_graph(self, graph: ox.NamedNode) -> None:
        self.update(f"DROP SILENT GRAPH <{graph.value}>", timeout=MAINTENANCE_TIMEOUT)

    def replace_graph(self, graph: ox.NamedNode, fill: Callable[[ox.NamedNode], None]) -> None:
        """Make `graph` hold exactly what `fill(target)` writes, or leave the store unchanged if it fails.

        A new graph is filled in place and dropped on failure. An existing graph is filled under a staging
        name first and swapped in with SPARQL MOVE only once the source has been read completely.
        """
        existed = self.has_graph(graph)
        target = ox.NamedNode(graph.value + STAGING_SUFFIX) if existed else graph
        if existed:
            self.drop_graph(target)  # what an interrupted earlier load may have left
        try:
            fill(target)
        except BaseException:
            self.drop_graph(target)
            raise
        if existed:
            self._swap_in(target, graph)

    def _swap_in(self, staging: ox.NamedNode, graph: ox.NamedNode) -> None:
        self.update(f"DROP SILENT GRAPH <{graph.value}> ; MOVE SILENT <{staging.value}> TO <{graph.value}>",
                    timeout=MAINTENANCE_TIMEOUT)

    def sync_graph(self, graph: ox.NamedNode, quads: Iterable[ox.Quad]) -> str | None:
        """Make `graph` hold exactly these triples, writing only the difference. Returns a digest of the new
        content when anything changed (order-independent, so equal contents have equal digests), else None.

        For derived graphs (links, mentions) that are recomputed in full but change little between loads:
        rewriting 400k mentions costs minutes, their difference seconds. Not atomic: an interrupted sync
        leaves a mix, which the next sync (`medkg kg link`) repairs.
        """
        wanted = {(q.subject, q.predicate, q.object) for q in quads}
        current = self._graph_triples(graph)
        removed = current - wanted
        self._remove_triples(graph, removed)
        added = wanted - current
        self.add_quads(ox.Quad(s, p, o, graph) for s, p, o in added)
        if not added and not removed:
            return None
        total = sum(int(hashlib.sha256(f"{s} {p} {o}".encode()).hexdigest()[:16], 16) for s, p, o in wanted)
        return f"{total % (1 << 64):016x}"

    def _graph_triples(self, graph: ox.NamedNode) -> set[tuple]:
        result = self.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph.value}> {{ ?s ?p ?o }} }}",
                            timeout=MAINTENANCE_TIMEOUT)
        return {(t.subject, t.predicate, t.object) for t in result.triples}

    def _remove_triples(self, graph: ox.NamedNode, triples: set[tuple]) -> None:
        ordered = list(triples)
        for start in range(0, len(ordered), 2000):
            body = " ".join(f"{s} {p} {o} ." for s, p, o in ordered[start:start + 2000])
            self.update(f"DELETE DATA {{ GRAPH <{graph.value}> {{ {body} }} }}", timeout=MAINTENANCE_TIMEOUT)


class OxigraphStore(GraphStore):
    """The embedded default: a pyoxigraph store on disk, opened through rdflib's Oxigraph plugin.

    ``.rdflib`` is a full rdflib Dataset over the same data; hot paths (bulk loads, queries) go to the
    pyoxigraph store underneath, which is what oxrdflib itself does.
    """

    def __init__(self, path: Path | None, *, query_timeout: float = 30.0) -> None:
        self.path = path
        self.query_timeout = query_timeout
        try:
            if path is None:
                self.ox = ox.Store()
            else:
                path.mkdir(parents=True, exist_ok=True)
                self.ox = ox.Store(str(path))
        except OSError as err:
            if "lock" in str(err).lower():
                raise MedkgError("the graph store is in use by another process (is `medkg kg serve` running? "
                                 "query it with --endpoint http://127.0.0.1:PORT/sparql)", path=path) from None
            raise MedkgError(f"cannot open the graph store: {err}", path=path) from None
        self._rdflib = None

    @property
    def rdflib(self):
        """An rdflib Dataset over this very store (oxrdflib), made on first use."""
        if self._rdflib is None:
            from oxrdflib import OxigraphStore as RdflibOxigraphStore
            from rdflib import Dataset

            # default_union: like medkg's SPARQL, rdflib sees the union of the source graphs by default.
            self._rdflib = Dataset(store=RdflibOxigraphStore(store=self.ox), default_union=True)
            for prefix, iri in PREFIXES.items():
                self._rdflib.bind(prefix, iri, override=True)
        return self._rdflib

    # Queries run on pooled worker threads (pyoxigraph releases the GIL) so a deadline can be enforced; the
    # evaluation itself cannot be cancelled and finishes in the background, holding its worker until then.
    _workers = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="medkg-query")

    def _with_deadline(self, work: Callable[[], object], timeout: float | None) -> object:
        limit = timeout if timeout is not None else self.query_timeout
        future = self._workers.submit(work)
        try:
            return future.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise QueryTimeout(f"query timed out after {limit:g} s") from None
        except BaseException as err:  # noqa: BLE001 - translated to a user error where it is one
            raise _translate(err) from None

    def _run(self, sparql: str, bindings: dict[str, object] | None):
        sparql = bind_as_values(sparql, _check_bindings(bindings))
        # Sources live in named graphs; queries see their union as the default graph.
        return self.ox.query(sparql, prefixes=PREFIXES, use_default_graph_as_union=True)

    def query(self, sparql: str, *, bindings: dict[str, object] | None = None,
              timeout: float | None = None) -> QueryResult:
        def work() -> QueryResult:
            result = self._run(sparql, bindings)
            return _materialise(result)

        return self._with_deadline(work, timeout)  # type: ignore[return-value]

    def query_serialized(self, sparql: str, *, results_format: ResultFormat, graph_format: ox.RdfFormat,
                         bindings: dict[str, object] | None = None, timeout: float | None = None
                         ) -> tuple[bytes, str]:
        def work() -> tuple[bytes, str]:
            result = self._run(sparql, bindings)
            if isinstance(result, ox.QueryTriples):
                return ox.serialize(result, format=graph_format), graph_format.media_type
            return result.serialize(format=results_format), results_format.media_type

        return self._with_deadline(work, timeout)  # type: ignore[return-value]

    def update(self, sparql: str, *, timeout: float | None = None) -> None:
        self._with_deadline(lambda: self.ox.update(sparql, prefixes=PREFIXES), timeout)

    def named_graphs(self) -> list[str]:
        return sorted(g.value for g in self.ox.named_graphs() if isinstance(g, ox.NamedNode))

    def add_quads(self, quads: Iterable[ox.Quad]) -> None:
        self.ox.bulk_extend(quads)

    def quad_count(self) -> int:
        return len(self.ox)  # 0.2 s for a million quads, where COUNT(*) over one graph takes 0.8 s

    # Oxigraph removes quads one by one far faster than SPARQL DROP / MOVE or remove_graph do (measured on
    # 420k quads: 5 s against 21 s for remove_graph and 97 s for DROP + MOVE), so graph swaps use it.
    def drop_graph(self, graph: ox.NamedNode) -> None:
        self._remove_triples(graph, None)
        self.ox.remove_graph(graph)

    def _swap_in(self, staging: ox.NamedNode, graph: ox.NamedNode) -> None:
        self._remove_triples(graph, None)
        self.ox.bulk_extend(ox.Quad(q.subject, q.predicate, q.object, graph)
                            for q in self.ox.quads_for_pattern(None, None, None, staging))
        self.drop_graph(staging)

    def _graph_triples(self, graph: ox.NamedNode) -> set[tuple]:
        return {(q.subject, q.predicate, q.object) for q in self.ox.quads_for_pattern(None, None, None, graph)}

    def _remove_triples(self, graph: ox.NamedNode, triples: set[tuple] | None) -> None:
        """Remove these triples from the graph (None: all of them)."""
        if triples is None:
            quads = list(self.ox.quads_for_pattern(None, None, None, graph))
        else:
            quads = [ox.Quad(s, p, o, graph) for s, p, o in triples]
        for quad in quads:
            self.ox.remove(quad)

    def load_rdf_file(self, path: Path, rdf_format: ox.RdfFormat, graph: ox.NamedNode) -> None:
        try:
            self.ox.bulk_load(path=str(path), format=rdf_format, to_graph=graph)
        except SyntaxError as err:
            raise MedkgError(f"invalid {rdf_format.name}: {_syntax_message(err)}", path=path,
                             line=err.lineno, column=err.offset) from None

    def flush(self) -> None:
        """Write everything to disk, so read-only views of the store (the HTTP endpoint's workers) see it."""
        self.ox.flush()

    def close(self) -> None:
        """Flush and release the store (and its lock on the folder)."""
        if getattr(self, "ox", None) is not None:
            self.ox.flush()
            had_rdflib, self._rdflib, self.ox = self._rdflib is not None, None, None
            if had_rdflib:
                gc.collect()  # rdflib's Dataset and store refer to each other: free them to release the lock


class SparqlEndpointStore(GraphStore):
    """Any SPARQL 1.1 store (Virtuoso, GraphDB, Fuseki, QLever, Oxigraph server, `medkg kg serve`) over HTTP.

    Whole graphs go in through the Graph Store Protocol where the store has it (Virtuoso, Fuseki, GraphDB,
    Oxigraph server), in chunks, each retried on a transient failure; other stores get SPARQL Update
    INSERT DATA. Sources load into a staging graph that replaces the old one only once complete
    (`GraphStore.replace_graph`), so a failed load leaves the remote store as it was.

        >>> store = SparqlEndpointStore("http://127.0.0.1:8890/sparql-auth", user="medkg", password="…")
        >>> store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows
    """

    # Triples per INSERT DATA request. Virtuoso compiles each into SQL and refuses past 10,000 lines of it
    # ("SP031 … exceeded 10000 lines"), which 2,000 triples exceed; 500 stay well under on every store.
    chunk_size = 500
    graph_store_chunk = 50_000  # triples per Graph Store Protocol request

    def __init__(self, endpoint: str, *, update_endpoint: str | None = None, graph_store: str | None = None,
                 user: str | None = None, password: str | None = None, query_timeout: float = 30.0) -> None:
        from medkg.kg.remote import SparqlHttp  # httpx and tenacity only for remote stores

        self.endpoint = endpoint
        self.update_endpoint = update_endpoint or endpoint
        self.query_timeout = query_timeout
        self.http = SparqlHttp(endpoint, update_endpoint=self.update_endpoint, graph_store=graph_store,
                               user=user, password=password)

    def _timeout(self, timeout: float | None) -> float:
        return timeout if timeout is not None else self.query_timeout

    def query(self, sparql: str, *, bindings: dict[str, object] | None = None,
              timeout: float | None = None) -> QueryResult:
        sparql = _with_prologue(bind_as_values(sparql, _check_bindings(bindings), as_bind=True))
        if _query_kind(sparql) == "graph":
            body, media_type = self.http.query(sparql, "application/n-triples", self._timeout(timeout))
            triples = [q.triple for q in ox.parse(body, format=ox.RdfFormat.from_media_type(media_type)
                                                  or ox.RdfFormat.N_TRIPLES)]
            return QueryResult(kind="graph", triples=triples)
        from medkg.kg.remote import refuse_capped

        body, media_type = self.http.query(sparql, _RESULTS_ACCEPT, self._timeout(timeout))
        results_format = ox.QueryResultsFormat.from_media_type(media_type) or ResultFormat.JSON
        try:
            result = _materialise(ox.parse_query_results(_plain_bnode_ids(body), format=results_format))
        except SyntaxError as err:
            raise MedkgError(f"the endpoint sent results medkg cannot read: {_syntax_message(err)}",
                             path=self.endpoint) from None
        refuse_capped(self.http.server, len(result.rows), sparql, self.endpoint)
        return result

    def query_serialized(self, sparql: str, *, results_format: ResultFormat, graph_format: ox.RdfFormat,
                         bindings: dict[str, object] | None = None, timeout: float | None = None
                         ) -> tuple[bytes, str]:
        sparql = _with_prologue(bind_as_values(sparql, _check_bindings(bindings), as_bind=True))
        accept = graph_format.media_type if _query_kind(sparql) == "graph" else results_format.media_type
        return self.http.query(sparql, accept, self._timeout(timeout))

    def update(self, sparql: str, *, timeout: float | None = None) -> None:
        self.http.update(_with_prologue(sparql), self._timeout(timeout))

    def named_graphs(self) -> list[str]:
        # Only medkg's graphs: a shared store also holds its own (Virtuoso's virtrdf#, DAV, other users').
        # `GRAPH ?g { }` (an empty pattern) would be cheaper, but Virtuoso answers it with one unbound row.
        result = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
                            f"FILTER(STRSTARTS(STR(?g), \"{GRAPH_BASE}\")) }}", timeout=MAINTENANCE_TIMEOUT)
        return sorted(result.values("g"))

    def add_quads(self, quads: Iterable[ox.Quad]) -> None:
        graph_store = self.http.graph_store_url()
        if graph_store:
            self._post_graphs(graph_store, quads)
            return
        for chunk in _requests(map(_named, quads), self.chunk_size):
            by_graph: dict[str, list[str]] = {}
            for quad in chunk:
                triple = " ".join(str(t) for t in (quad.subject, quad.predicate, quad.object))
                by_graph.setdefault(quad.graph_name.value, []).append(triple + " .")
            body = " ".join(f"GRAPH <{g}> {{ {' '.join(ts)} }}" for g, ts in by_graph.items())
            # Virtuoso refuses blank nodes in INSERT DATA (SP031 "not allowed in a constant clause"); a template
            # over the one empty solution makes one fresh node per label, as INSERT DATA does.
            blank = any(isinstance(q.subject, ox.BlankNode) or isinstance(q.object, ox.BlankNode) for q in chunk)
            self.update(f"INSERT {{ {body} }} WHERE {{ }}" if blank else f"INSERT DATA {{ {body} }}",
                        timeout=MAINTENANCE_TIMEOUT)

    def _post_graphs(self, url: str, quads: Iterable[ox.Quad]) -> None:
        """Append quads graph by graph over the Graph Store Protocol (POST adds; the graph's old content stays)."""
        for chunk in _requests(map(_named, quads), self.graph_store_chunk):
            by_graph: dict[str, list[ox.Triple]] = {}
            for quad in chunk:
                by_graph.setdefault(quad.graph_name.value, []).append(quad.triple)
            for graph, triples in by_graph.items():
                body = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
                self.http.put_graph(url, graph, body, MAINTENANCE_TIMEOUT, append=True)

    def load_rdf_file(self, path: Path, rdf_format: ox.RdfFormat, graph: ox.NamedNode) -> None:
        self.add_quads(ox.Quad(q.subject, q.predicate, q.object, graph) for q in parse_rdf_file(path, rdf_format))

    def close(self) -> None:
        self.http.close()


def _named(quad: ox.Quad) -> ox.Quad:
    if not isinstance(quad.graph_name, ox.NamedNode):
        raise MedkgError("remote loads need every quad in a named graph")
    return quad


def parse_rdf_file(path: Path, rdf_format: ox.RdfFormat) -> Iterator[ox.Quad]:
    try:
        yield from ox.parse(path=str(path), format=rdf_format)
    except SyntaxError as err:
        raise MedkgError(f"invalid {rdf_format.name}: {_syntax_message(err)}", path=path,
                         line=err.lineno, column=err.offset) from None


def _syntax_message(err: SyntaxError) -> str:
    return str(err.msg if err.msg else err)


# JSON, not XML: Virtuoso writes XML results in about 60% of the time (a 250,000-row label table: 5.5 s
# against 8 s), but it writes whitespace raw there and pyoxigraph 0.5's XML reader trims it, so a document's
# text would lose its closing newline and its annotation offsets with it.
_RESULTS_ACCEPT = ResultFormat.JSON.media_type
# Virtuoso names blank nodes `nodeID://b10001` in JSON results, which is not a blank node label: keep `b10001`.
_VIRTUOSO_BNODE = re.compile(rb'("type"\s*:\s*"bnode"\s*,\s*"value"\s*:\s*")nodeID://')


def _plain_bnode_ids(body: bytes) -> bytes:
    return _VIRTUOSO_BNODE.sub(rb"\1", body) if b"nodeID://" in body else body


def _requests(quads: Iterable[ox.Quad], size: int) -> Iterator[list[ox.Quad]]:
    """Quads in requests of about `size`, all the triples of a blank node in the same request.

    Each request is a document of its own to the server, so a blank node split over two would become two
    nodes. Blank nodes stay blank rather than skolemised IRIs, which `isIRI(?x)` would take for concepts. Quads
    without one stream through; those with one are held to the end (OWL axioms and annotation bodies: a part
    of a source), then sent a connected group at a time (an RDF list or a nested restriction is one group).
    """
    plain: list[ox.Quad] = []
    held: list[ox.Quad] = []
    for quad in quads:
        if isinstance(quad.subject, ox.BlankNode) or isinstance(quad.object, ox.BlankNode):
            held.append(quad)
            continue
        plain.append(quad)
        if len(plain) >= size:
            yield plain
            plain = []
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]  # path halving keeps the chains short
            node = parent[node]
        return node

    for quad in held:
        nodes = [n.value for n in (quad.subject, quad.object) if isinstance(n, ox.BlankNode)]
        a, b = root(nodes[0]), root(nodes[-1])
        if a != b:
            parent[a] = b
    groups: dict[str, list[ox.Quad]] = {}
    for quad in held:
        node = quad.subject if isinstance(quad.subject, ox.BlankNode) else quad.object
        groups.setdefault(root(node.value), []).append(quad)
    for group in groups.values():
        plain.extend(group)
        if len(plain) >= size:
            yield plain
            plain = []
    if plain:
        yield plain


def _with_prologue(sparql: str) -> str:
    """Remote stores do not know medkg's prefixes: declare the ones the query uses and does not declare."""
    declared = set(re.findall(r"(?i)PREFIX\s+([\w.-]*):", sparql))
    needed = [p for p in PREFIXES if p not in declared and re.search(rf"(?<![\w<]){re.escape(p)}:", sparql)]
    return "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in needed) + sparql


def _materialise(result) -> QueryResult:
    if isinstance(result, ox.QueryBoolean):
        return QueryResult(kind="ask", boolean=bool(result))
    if isinstance(result, ox.QueryTriples):
        return QueryResult(kind="graph", triples=list(result))
    variables = [v.value for v in result.variables]
    # Positional access: reading solutions by name costs about twice as much on large results.
    rows = [{name: value for name, value in zip(variables, solution) if value is not None} for solution in result]
    return QueryResult(kind="select", variables=variables, rows=rows)


def _translate(err: BaseException) -> BaseException:
    if isinstance(err, MedkgError):
        return err
    if isinstance(err, SyntaxError):
        return MedkgError(f"invalid SPARQL: {_syntax_message(err)}")
    if isinstance(err, (RuntimeError, OSError, ValueError)):
        return MedkgError(f"SPARQL evaluation failed: {err}")
    return err


def open_store(settings) -> GraphStore:
    """The store the settings name: a remote endpoint if configured, else the embedded one in the workspace."""
    if settings.endpoint:
        return SparqlEndpointStore(settings.endpoint, update_endpoint=settings.update_endpoint,
                                   graph_store=settings.graph_store, user=settings.endpoint_user,
                                   password=settings.endpoint_password, query_timeout=settings.query_timeout)
    return OxigraphStore(settings.store_path, query_timeout=settings.query_timeout)
