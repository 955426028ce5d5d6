"""`medkg kg serve`: the SPARQL 1.1 Protocol over HTTP, on 127.0.0.1 by default.

GET and POST (form-encoded or direct ``application/sparql-query`` bodies) at ``/sparql``; results as SPARQL
JSON, XML, CSV or TSV by Accept header (graphs as Turtle or N-Triples). Read-only unless started with
``allow_update``; every query and update has a time limit. The default graph is the union of all sources.

Oxigraph cannot cancel a running query, so a read-only server over an embedded store evaluates each query in a
child process on a read-only view of the store and kills it at the deadline (about 30 ms of overhead a query).
A server that accepts updates shares one writer and runs queries in-process: past the deadline the client
gets its error at once, but the evaluation finishes in the background.

Other GET paths go to an optional `Pages` object (the evidence explorer, `medkg.explorer`, is one): kg knows
nothing of it beyond this small protocol, and pages run user queries through the same isolated, time-limited
path as the endpoint (`PageRequest.run_query`).
"""
from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import pyoxigraph as ox

from medkg.errors import MedkgError
from medkg.kg.store import PREFIXES, GraphStore, OxigraphStore, QueryTimeout

log = logging.getLogger("medkg.kg.server")

RESULT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "application/xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}
MAX_BODY = 16 * 1024 * 1024


def _negotiate(accept: str | None) -> tuple[ox.QueryResultsFormat, ox.RdfFormat]:
    """Pick the result and graph formats from an Accept header, by q-value then order."""
    ranked = []
    for position, part in enumerate((accept or "").split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        ranked.append((-q, position, media.lower()))
    ranked.sort()
    results = next((RESULT_FORMATS[m] for _, _, m in ranked if m in RESULT_FORMATS), ox.QueryResultsFormat.JSON)
    graph = next((GRAPH_FORMATS[m] for _, _, m in ranked if m in GRAPH_FORMATS), ox.RdfFormat.TURTLE)
    return results, graph


def _query_in_child(connection, store_path: str, sparql: str, results_media: str, graph_media: str) -> None:
    """Child-process side of IsolatedQueries: evaluate on a read-only store, send back bytes or an error."""
    try:
        store = ox.Store.read_only(store_path)
        result = store.query(sparql, prefixes=PREFIXES, use_default_graph_as_union=True)
        if isinstance(result, ox.QueryTriples):
            graph_format = ox.RdfFormat.from_media_type(graph_media)
            connection.send(("ok", ox.serialize(result, format=graph_format), graph_format.media_type))
        else:
            results_format = ox.QueryResultsFormat.from_media_type(results_media)
            connection.send(("ok", result.serialize(format=results_format), results_format.media_type))
    except SyntaxError as err:
        connection.send(("error", f"invalid SPARQL: {err.msg or err}", None))
    except Exception as err:  # noqa: BLE001 - reported to the client as a bad request
        connection.send(("error", f"SPARQL evaluation failed: {err}", None))
    finally:
        connection.close()


class IsolatedQueries:
    """Evaluate read-only queries in killable child processes (forkserver: children start clean)."""

    def __init__(self, store_path: Path) -> None:
        self.store_path = str(store_path)
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["pyoxigraph", "medkg.kg.server"])

    def query_serialized(self, sparql: str, *, results_format: ox.QueryResultsFormat, graph_format: ox.RdfFormat,
                         timeout: float) -> tuple[bytes, str]:
        receiver, sender = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_query_in_child, daemon=True, args=(
            sender, self.store_path, sparql, results_format.media_type, graph_format.media_type))
        process.start()
        sender.close()
        try:
            if not receiver.poll(timeout):
                raise QueryTimeout(f"query timed out after {timeout:g} s")
            status, payload, media_type = receiver.recv()
        except EOFError:
            raise MedkgError("the query process ended without an answer") from None
        finally:
            if process.is_alive():
                process.kill()
            process.join()
            receiver.close()
        if status != "ok":
            raise MedkgError(payload)
        return payload, media_type


@dataclass(frozen=True)
class PageRequest:
    """A GET for a page: the path, its query parameters, and the endpoint's own way of running a user query
    (isolated and time-limited exactly like ``/sparql``; raises `QueryTimeout` or `MedkgError`)."""

    path: str
    params: dict[str, list[str]]
    run_query: Callable[[str, ox.QueryResultsFormat, ox.RdfFormat], tuple[bytes, str]]

    def param(self, name: str, default: str = "") -> str:
        values = self.params.get(name)
        return values[0] if values else default


@dataclass(frozen=True)
class PageResponse:
    status: int
    body: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)


class Pages(Protocol):
    """What the server asks of a set of pages: a response for a GET, or None when the path is not theirs."""

    def handle(self, request: PageRequest) -> PageResponse | None: ...


class SparqlServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: GraphStore, host: str = "127.0.0.1", port: int = 7878, *,
                 allow_update: bool = False, timeout: float = 30.0, pages: Pages | None = None) -> None:
        self.store = store
        self.allow_update = allow_update
        self.query_timeout = timeout
        self.pages = pages
        self.queries = store
        if not allow_update and isinstance(store, OxigraphStore) and store.path is not None:
            store.flush()  # so the read-only views see everything
            self.queries = IsolatedQueries(store.path)
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def url(self) -> str:
        return self.base_url + "sparql"

    def run_query(self, sparql: str, results_format: ox.QueryResultsFormat = ox.QueryResultsFormat.JSON,
                  graph_format: ox.RdfFormat = ox.RdfFormat.N_TRIPLES) -> tuple[bytes, str]:
        """A user's query, serialized, under the endpoint's isolation and time limit."""
        return self.queries.query_serialized(sparql, results_format=results_format, graph_format=graph_format,
                                             timeout=self.query_timeout)

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="medkg-sparql", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: SparqlServer
    server_version = "medkg-sparql/0.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        log.info("%s %s", self.address_string(), format % args)

    # -- HTTP verbs -----------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        if url.path not in ("/sparql", "/sparql/"):
            return self._page(url.path, params)
        if "update" in params:
            return self._send_text(HTTPStatus.BAD_REQUEST, "updates must be sent with POST\n")
        if "query" not in params:
            return self._send_text(HTTPStatus.OK, "medkg SPARQL 1.1 endpoint: GET or POST ?query=...\n")
        self._query(params["query"][0])

    def do_HEAD(self) -> None:  # noqa: N802 - same headers as GET, no body (`_send` knows)
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.path not in ("/sparql", "/sparql/"):
            return self._send_text(HTTPStatus.NOT_FOUND, "the SPARQL endpoint is at /sparql\n")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._send_text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large\n")
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/sparql-query":
            return self._query(body)
        if content_type == "application/sparql-update":
            return self._update(body)
        if content_type in ("application/x-www-form-urlencoded", ""):
            params = parse_qs(body, keep_blank_values=True)
            params.update({k: v for k, v in parse_qs(url.query).items() if k not in params})
            if "query" in params:
                return self._query(params["query"][0])
            if "update" in params:
                return self._update(params["update"][0])
            return self._send_text(HTTPStatus.BAD_REQUEST, "missing 'query' or 'update' parameter\n")
        return self._send_text(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Type {content_type}\n")

    # -- work -----------------------------------------------------------------------------------------------

    def _page(self, path: str, params: dict[str, list[str]]) -> None:
        response = None
        if self.server.pages is not None:
            try:
                response = self.server.pages.handle(PageRequest(path, params, self.server.run_query))
            except Exception:  # noqa: BLE001 - a page bug must not take the endpoint down; the log has it
                log.exception("page %s failed", path)
                return self._send_text(HTTPStatus.INTERNAL_SERVER_ERROR, "this page failed; see the server log\n")
        if response is None:
            return self._send_text(HTTPStatus.NOT_FOUND, "the SPARQL endpoint is at /sparql\n")
        self._send(HTTPStatus(response.status), response.body, response.media_type, response.headers)

    def _query(self, sparql: str) -> None:
        results_format, graph_format = _negotiate(self.headers.get("Accept"))
        try:
            body, media_type = self.server.queries.query_serialized(
                sparql, results_format=results_format, graph_format=graph_format, timeout=self.server.query_timeout)
        except QueryTimeout as err:
            return self._send_text(HTTPStatus.SERVICE_UNAVAILABLE, f"{err}\n")
        except MedkgError as err:
            return self._send_text(HTTPStatus.BAD_REQUEST, f"{err}\n")
        self._send(HTTPStatus.OK, body, media_type)

    def _update(self, sparql: str) -> None:
        if not self.server.allow_update:
            return self._send_text(HTTPStatus.FORBIDDEN,
                                   "this endpoint is read-only; start it with --allow-update to accept updates\n")
        try:
            self.server.store.update(sparql, timeout=self.server.query_timeout)
        except QueryTimeout as err:
            return self._send_text(HTTPStatus.SERVICE_UNAVAILABLE, f"{err}\n")
        except MedkgError as err:
            return self._send_text(HTTPStatus.BAD_REQUEST, f"{err}\n")
        self._send(HTTPStatus.NO_CONTENT, b"", None)

    def _send_text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, text.encode("utf-8"), "text/plain; charset=utf-8")

    def _send(self, status: HTTPStatus, body: bytes, media_type: str | None,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if media_type:
            self.send_header("Content-Type", media_type if "charset" in media_type or not media_type.startswith(
                ("text/", "application/sparql-results", "application/json")) else f"{media_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)


def serve(store: GraphStore, host: str = "127.0.0.1", port: int = 7878, *, allow_update: bool = False,
          timeout: float = 30.0, pages: Pages | None = None) -> SparqlServer:
    """Create the server (bound, not yet serving). Call ``serve_forever()`` or ``start_background()``."""
    try:
        return SparqlServer(store, host, port, allow_update=allow_update, timeout=timeout, pages=pages)
    except OSError as err:
        raise MedkgError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
