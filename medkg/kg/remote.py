"""HTTP to a remote SPARQL 1.1 store: the query/update protocol, the Graph Store Protocol, credentials, retries.

What a remote store needs beyond plain requests, in one place: HTTP basic or digest authentication, whichever
the server challenges with (Virtuoso's ``/sparql-auth`` asks for digest, Fuseki and GraphDB for basic);
retries with back-off for connection failures and 502/503/504, so one dropped connection does not fail an
hour-long load; results a server cut short (Virtuoso's "anytime" partial answers and its row caps) turned into
errors instead of silently short results; and the Graph Store Protocol endpoint of the common stores, found
from the server's own ``Server`` header. The password is kept out of every message, ``repr`` and log.

    >>> client = SparqlHttp("http://127.0.0.1:8890/sparql-auth", user="medkg", password="…")
    >>> body, media_type = client.query("ASK { ?s ?p ?o }", "application/sparql-results+json", 30)
"""
from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx
import tenacity

from medkg.errors import MedkgError, QueryTimeout

USER_AGENT = "medkg"
# Attempts per request for transient failures (connection refused or reset, 502 from a proxy, 503 with a
# Retry-After), with back-off. A query the server gave up on (504, or a 503 about its time limit, as Fuseki and
# `medkg kg serve` send) is a time-out, not retried: running it again would take as long.
ATTEMPTS = 4


class _Transient(Exception):
    """A failure worth retrying (carries the response or the transport error for the final message)."""

    def __init__(self, cause: httpx.Response | Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def redact(url: str) -> str:
    """The URL without any user:password part, for messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class ChallengeAuth(httpx.Auth):
    """Basic or digest authentication, whichever scheme the server's 401 challenge names.

    The first request goes out without credentials; the challenge decides the scheme for the rest of the
    session (digest keeps its nonce, so later requests need one round trip).
    """

    requires_request_body = True

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self._basic = httpx.BasicAuth(user, password)
        self._digest = httpx.DigestAuth(user, password)
        self._scheme: httpx.Auth | None = None

    def __repr__(self) -> str:  # never the password
        return f"ChallengeAuth(user={self.user!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._scheme is not None:
            yield from self._scheme.auth_flow(request)
            return
        response = yield request
        if response.status_code != 401:
            return
        challenge = response.headers.get("www-authenticate", "").strip().lower()
        self._scheme = self._digest if challenge.startswith("digest") else self._basic
        yield from self._scheme.auth_flow(request)


@dataclass
class SparqlHttp:
    """One remote store's HTTP endpoints and credentials (the password is not part of the repr)."""

    endpoint: str
    update_endpoint: str | None = None
    # The Graph Store Protocol endpoint; None: found from the server (`graph_store_url`); "" : none (updates).
    graph_store: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _server: str | None = field(default=None, init=False, repr=False)

    @property
    def server(self) -> str:
        """The server's own name and version (its ``Server`` header), once it has answered."""
        return self._server or ""

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            auth = ChallengeAuth(self.user, self.password or "") if self.user else None
            self._client = httpx.Client(auth=auth, headers={"User-Agent": USER_AGENT}, follow_redirects=True)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- the SPARQL protocol --------------------------------------------------------------------------------

    def query(self, sparql: str, accept: str, timeout: float) -> tuple[bytes, str]:
        """POST a query (form-encoded, which every store accepts); returns (body, media type)."""
        response = self.send("POST", self.endpoint, timeout, data={"query": sparql}, headers={"Accept": accept})
        _refuse_partial(response, self.endpoint)
        media_type = response.headers.get("Content-Type", accept).split(";")[0].strip()
        return response.content, media_type

    def update(self, sparql: str, timeout: float) -> None:
        self.send("POST", self.update_endpoint or self.endpoint, timeout, data={"update": sparql})

    # -- the Graph Store Protocol ---------------------------------------------------------------------------

    def graph_store_url(self) -> str | None:
        """Where this store takes whole graphs over the Graph Store Protocol, or None to use SPARQL Update.

        Explicit setting first; else the usual place for the server that answered (its ``Server`` header):
        Virtuoso ``/sparql-graph-crud[-auth]``, Fuseki ``/<dataset>/data``, Oxigraph server ``/store``.
        """
        if self.graph_store is not None:
            return self.graph_store or None
        if self._server is None:
            self.query("ASK { }", "application/sparql-results+json", 30)
        return _known_graph_store(self._server or "", self.update_endpoint or self.endpoint, bool(self.user))

    def put_graph(self, url: str, graph: str, ntriples: bytes, timeout: float, *, append: bool) -> None:
        """Replace (PUT) or extend (POST) one named graph with N-Triples."""
        self.send("POST" if append else "PUT", url, timeout, params={"graph": graph}, content=ntriples,
                  headers={"Content-Type": "application/n-triples"})

    # -- one request, with retries and clear errors ---------------------------------------------------------

    def send(self, method: str, url: str, timeout: float, **request) -> httpx.Response:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(ATTEMPTS), wait=tenacity.wait_exponential(multiplier=0.5, max=8),
            retry=tenacity.retry_if_exception_type(_Transient), reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    return self._send_once(method, url, timeout, **request)
        except _Transient as failure:
            cause = failure.cause
            if isinstance(cause, httpx.Response):
                raise _status_error(cause, url) from None
            raise MedkgError(f"cannot reach the SPARQL endpoint: {cause}", path=redact(url)) from None
        raise AssertionError("unreachable")  # pragma: no cover - Retrying either returns or raises

    def _send_once(self, method: str, url: str, timeout: float, **request) -> httpx.Response:
        # A read that takes too long is the query's time limit, not a transient failure: never retried.
        limits = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        try:
            response = self.client.request(method, url, timeout=limits, **request)
        except httpx.TimeoutException as err:
            if isinstance(err, httpx.ConnectTimeout):
                raise _Transient(err) from None
            raise QueryTimeout(f"the endpoint did not answer in time ({timeout:g} s)", path=redact(url)) from None
        except (httpx.ConnectError, httpx.RemoteProtocolError) as err:
            raise _Transient(err) from None
        except httpx.HTTPError as err:
            raise MedkgError(f"the SPARQL endpoint failed: {type(err).__name__}: {err}", path=redact(url)) from None
        self._server = self._server or response.headers.get("Server", "")
        status = response.status_code
        if status == 504 or (status == 503 and "time" in response.text.lower()):
            raise QueryTimeout(f"the endpoint did not answer in time ({_detail(response)})", path=redact(url))
        if status == 502 or (status == 503 and "Retry-After" in response.headers):
            raise _Transient(response)
        if response.status_code >= 400:
            raise _status_error(response, url)
        return response


def _known_graph_store(server: str, endpoint: str, authenticated: bool) -> str | None:
    parts = urlsplit(endpoint)
    folder = parts.path.rsplit("/", 1)[0]
    if server.startswith("Virtuoso"):
        path = f"{folder}/sparql-graph-crud-auth" if authenticated else f"{folder}/sparql-graph-crud"
    elif "Fuseki" in server:
        path = f"{folder}/data"
    elif server.startswith("Oxigraph"):
        path = f"{folder}/store"
    else:
        return None
    return urlunsplit(parts._replace(path=path, query=""))


def _refuse_partial(response: httpx.Response, url: str) -> None:
    """Virtuoso answers 200 with part of the result when it hits its time limit; say so instead of using it.
    (Its row caps send no header: `refuse_capped` tells those by the count.)"""
    state = response.headers.get("X-SQL-State", "")
    if state.startswith("S1TAT"):  # "anytime query": MaxQueryExecutionTime reached, partial result
        raise QueryTimeout("the endpoint stopped the query at its own time limit and sent a partial result "
                            f"({response.headers.get('X-SQL-Message', state).strip()})", path=redact(url))


# Virtuoso cuts SELECT results at [SPARQL] ResultSetMaxRows (10,000 as packaged) and at 2^20 rows over HTTP
# whatever that setting, without saying so (openlink/virtuoso-opensource#112, #700).
VIRTUOSO_ROW_CAPS = (10_000, 1 << 20)


def refuse_capped(server: str, rows: int, sparql: str, url: str) -> None:
    """A result of exactly a Virtuoso row cap, from a query without LIMIT, is most likely cut short."""
    if server.startswith("Virtuoso") and rows in VIRTUOSO_ROW_CAPS and not re.search(r"(?i)\bLIMIT\s+\d+", sparql):
        raise MedkgError(f"the endpoint returned exactly {rows:,} rows, Virtuoso's cap on a result: the answer is "
                         "probably cut short (raise [SPARQL] ResultSetMaxRows in virtuoso.ini; past 1,048,576 "
                         "rows Virtuoso cuts HTTP results anyway)", path=redact(url))


def _detail(response: httpx.Response) -> str:
    return re.sub(r"\s+", " ", response.text).strip()[:500] or response.reason_phrase


def _status_error(response: httpx.Response, url: str) -> MedkgError:
    detail = _detail(response)
    text = f"HTTP {response.status_code}: {detail}"
    if response.status_code == 401:
        who = "the credentials were refused" if response.request.headers.get("Authorization") else \
            "it needs credentials: set endpoint_user and endpoint_password in medkg.toml or " \
            "MEDKG_ENDPOINT_USER / MEDKG_ENDPOINT_PASSWORD"
        return MedkgError(f"the endpoint refused the request: {who} (HTTP 401)", path=redact(url))
    if response.status_code == 403:
        return MedkgError(f"the endpoint refused the request ({text})", path=redact(url))
    if response.status_code == 400 or "SP030" in detail or "SPARQL compiler" in detail:
        return MedkgError(f"invalid SPARQL: {text}", path=redact(url))
    return MedkgError(f"the SPARQL endpoint failed: {text}", path=redact(url))
