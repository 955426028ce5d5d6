"""Routes of the explorer: a GET in, an HTML page out (see `medkg.kg.server.Pages`).

    /                    search box, saved-query examples, sources, annotated documents
    /search?q=&lang=     concepts by any label or synonym, any language (case and accent insensitive);
                         a CURIE/IRI or a PREFIX:CODE cross-reference also finds its concepts
    /concept?iri=        a concept (or any resource) with its evidence; annotated documents redirect
    /document?iri=       an annotated document, spans highlighted and linked to their concepts
    /documents           every annotated document
    /query?query=        the SPARQL editor and its results (?example=NAME loads a saved query)
    /static/NAME         the stylesheet and the script

Everything a page prints is escaped by Jinja2's autoescape: labels, passages and document texts are untrusted.
Only http(s) IRIs become external links; every page is sent with a Content-Security-Policy that allows only
this server's own script, and with no Referer, so browsing does not leak IRIs or queries to other sites.
"""
from __future__ import annotations

import mimetypes
import time
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from urllib.parse import urlencode

import jinja2
import pyoxigraph as ox

import medkg
from medkg.errors import MedkgError
from medkg.explorer import views
from medkg.extract import html_view
from medkg.extract.queries import annotated_documents, read_document
from medkg.kg import namespaces as ns
from medkg.kg.display import compact_iri
from medkg.kg.queries import SAVED_QUERIES, concept_term, example_sparql
from medkg.kg.server import PageRequest, PageResponse
from medkg.kg.store import GraphStore, QueryTimeout


HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# name → (package, folder): a fixed list, so no path from a URL ever reaches the file system
STATIC_FILES = {"explorer.css": ("medkg.explorer", "static"), "explorer.js": ("medkg.explorer", "static"),
                "annotation_hover.js": ("medkg.extract", "templates")}
MAX_RESULT_ROWS = 1000
DEFAULT_QUERY = "SELECT ?concept ?label WHERE {\n  ?concept rdfs:label ?label .\n} LIMIT 10"


def concept_href(iri: str) -> str:
    return "/concept?" + urlencode({"iri": iri})


def external_href(iri: str) -> str | None:
    """An IRI a browser may open: only http(s), never ``javascript:`` or ``data:`` IRIs from the graph."""
    return iri if iri.lower().startswith(("http://", "https://")) else None


@dataclass(frozen=True)
class Cell:
    """One RDF term as a table cell."""

    text: str
    kind: str                      # iri | literal | blank | empty
    href: str | None = None        # the explorer's page for it
    external: str | None = None    # the IRI itself, when a browser can open it
    title: str = ""                # full IRI or datatype, on hover
    lang: str = ""


def cell(term) -> Cell:
    if term is None:
        return Cell("", "empty")
    if isinstance(term, ox.NamedNode):
        return Cell(compact_iri(term.value), "iri", concept_href(term.value), external_href(term.value), term.value)
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value if term.datatype else ""
        plain = datatype in ("", ns.XSD + "string", ns.RDF + "langString")
        return Cell(term.value, "literal", title="" if plain else compact_iri(datatype), lang=term.language or "")
    if isinstance(term, ox.Triple):
        return Cell(f"<< {term} >>", "literal")
    return Cell(str(term), "blank")


@dataclass
class QueryOutcome:
    columns: list[str]
    rows: list[list[Cell]]
    total: int
    boolean: bool | None = None
    error: str | None = None
    seconds: float = 0.0


def run_user_query(request: PageRequest, sparql: str) -> QueryOutcome:
    """The editor's query through the endpoint's isolated, time-limited path; results parsed back for a table."""
    started = time.perf_counter()
    try:
        body, media_type = request.run_query(sparql, ox.QueryResultsFormat.JSON, ox.RdfFormat.N_TRIPLES)
    except QueryTimeout as err:
        return QueryOutcome([], [], 0, error=str(err))
    except MedkgError as err:
        return QueryOutcome([], [], 0, error=err.message)
    seconds = time.perf_counter() - started
    if media_type.startswith("application/n-triples"):
        triples = [quad.triple for quad in ox.parse(body, ox.RdfFormat.N_TRIPLES)]
        rows = [[cell(t.subject), cell(t.predicate), cell(t.object)] for t in triples[:MAX_RESULT_ROWS]]
        return QueryOutcome(["subject", "predicate", "object"], rows, len(triples), seconds=seconds)
    results = ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
    if isinstance(results, ox.QueryBoolean):
        return QueryOutcome([], [], 0, boolean=bool(results), seconds=seconds)
    columns = [v.value for v in results.variables]
    rows, total = [], 0
    for solution in results:
        total += 1
        if total <= MAX_RESULT_ROWS:
            rows.append([cell(solution[c]) for c in columns])
    return QueryOutcome(columns, rows, total, seconds=seconds)


class Explorer:
    """The pages, over a store; hand it to `medkg.kg.server.serve(..., pages=Explorer(store))`."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("medkg.explorer", "templates"), autoescape=True,
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.templates.globals.update(
            concept_href=concept_href, external_href=external_href, curie=compact_iri, cell=cell,
            cell_for_iri=lambda iri: cell(ox.NamedNode(iri)), version=getattr(medkg, "__version__", ""))

    # -- dispatch ---------------------------------------------------------------------------------------

    def handle(self, request: PageRequest) -> PageResponse | None:
        path = request.path.rstrip("/") or "/"
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        route = {"/": self.home, "/search": self.search, "/concept": self.concept, "/document": self.document,
                 "/documents": self.documents, "/query": self.query}.get(path)
        if route is None:
            return self._page("message.html.j2", HTTPStatus.NOT_FOUND, title="Not found",
                              message=f"There is no page at {request.path}.")
        try:
            return route(request)
        except QueryTimeout as err:
            return self._page("message.html.j2", HTTPStatus.SERVICE_UNAVAILABLE, title="Too slow",
                              message=f"The graph took too long to answer this page ({err}).")

    def _page(self, template: str, status: int = HTTPStatus.OK, **context) -> PageResponse:
        body = self.templates.get_template(template).render(**context)
        return PageResponse(status, body.encode("utf-8"), "text/html; charset=utf-8", dict(HTML_HEADERS))

    def _redirect(self, location: str) -> PageResponse:
        return PageResponse(HTTPStatus.SEE_OTHER, b"", "text/plain; charset=utf-8", {"Location": location})

    def _static(self, name: str) -> PageResponse | None:
        if name not in STATIC_FILES:
            return None
        package, folder = STATIC_FILES[name]
        body = resources.files(package).joinpath(folder, name).read_bytes()
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return PageResponse(HTTPStatus.OK, body, f"{media_type}; charset=utf-8",
                            {"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})

    def _bad_request(self, message: str) -> PageResponse:
        return self._page("message.html.j2", HTTPStatus.BAD_REQUEST, title="Cannot show this", message=message)

    # -- pages ------------------------------------------------------------------------------------------

    def home(self, request: PageRequest) -> PageResponse:
        return self._page("home.html.j2", title="medkg evidence explorer", query_text="",
                          examples=list(SAVED_QUERIES.values()), sources=views.Sources(self.store).all(),
                          documents=annotated_documents(self.store, limit=20))

    def search(self, request: PageRequest) -> PageResponse:
        text, lang = request.param("q").strip(), request.param("lang").strip().lower()
        if lang and not lang.replace("-", "").isalnum():
            return self._bad_request(f"{lang!r} is not a language tag (en, it, es, …).")
        hits, total = views.search_concepts(self.store, text, lang=lang) if text else ([], 0)
        by_reference = self._by_reference(text)
        return self._page("search.html.j2", title=f"Search: {text}" if text else "Search", query_text=text,
                          lang=lang, hits=hits, total=total, by_reference=by_reference,
                          too_short=0 < len(text) < 2)

    def _by_reference(self, text: str) -> list[views.Related]:
        """A CURIE or IRI of something in the graph, or a PREFIX:CODE cross-reference: the concepts it names."""
        if ":" not in text or " " in text:
            return []
        found = []
        try:
            iri = concept_term(text).value
            if self.store.query("ASK { ?x ?p ?o }", bindings={"x": ox.NamedNode(iri)}).boolean:
                found.append(views.Related(iri, views.display_labels(self.store, [iri])[iri], note="by identifier"))
        except (MedkgError, ValueError):
            pass
        normalised = ns.normalize_xref(text)
        if normalised:
            found += [views.Related(r.iri, r.label, note=f"has cross-reference {normalised}")
                      for r in views.concepts_with_xref(self.store, normalised)]
        return found

    def concept(self, request: PageRequest) -> PageResponse:
        reference = request.param("iri").strip()
        if not reference:
            return self._bad_request("Which concept? Give ?iri= an IRI or a CURIE such as DOID:399.")
        try:
            iri = concept_term(reference).value
        except MedkgError as err:
            return self._bad_request(err.message)
        if read_document(self.store, iri) is not None:
            return self._redirect("/document?" + urlencode({"iri": iri}))
        view = views.concept_view(self.store, iri)
        status = HTTPStatus.OK if view.found else HTTPStatus.NOT_FOUND
        return self._page("concept.html.j2", status, title=view.label, view=view)

    def documents(self, request: PageRequest) -> PageResponse:
        return self._page("documents.html.j2", title="Annotated documents", documents=annotated_documents(self.store))

    def document(self, request: PageRequest) -> PageResponse:
        iri = request.param("iri").strip()
        try:
            stored = read_document(self.store, iri) if iri else None
        except ValueError:
            stored = None
        if stored is None:
            return self._page("message.html.j2", HTTPStatus.NOT_FOUND, title="No such document",
                              message=f"No annotations in the graph target {iri or '(no IRI given)'}.")
        annotations = stored.annotations
        counts = Counter(a.type for a in annotations)
        legend = html_view.type_legend(sorted(counts), counts)
        type_index = {entry["name"]: entry["index"] for entry in legend}
        layers = html_view.assign_layers(annotations)
        max_layer = max(layers.values(), default=0)
        text = None
        if stored.has_text:
            text = html_view.markup(stored.document, annotations, type_index, "d",
                                    href=lambda a: concept_href(a.concept.iri) if a.concept else None)
        return self._page("document.html.j2", title=stored.document.id, stored=stored, legend=legend,
                          annotation_css=html_view.annotation_css(legend, max_layer), markup=text,
                          statuses=Counter(a.assertion.status for a in annotations))

    def query(self, request: PageRequest) -> PageResponse:
        example = request.param("example")
        if example:
            if example not in SAVED_QUERIES:
                return self._bad_request(f"No saved query {example!r} (known: {', '.join(SAVED_QUERIES)}).")
            sparql = example_sparql(SAVED_QUERIES[example])
        else:
            sparql = request.param("query")
        outcome = run_user_query(request, sparql) if sparql.strip() else None
        status = HTTPStatus.BAD_REQUEST if outcome is not None and outcome.error else HTTPStatus.OK
        return self._page("query.html.j2", status, title="SPARQL", sparql=sparql or DEFAULT_QUERY,
                          outcome=outcome, examples=list(SAVED_QUERIES.values()), selected=example,
                          max_rows=MAX_RESULT_ROWS)
