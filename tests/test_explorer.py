"""The evidence explorer over HTTP: the pages `medkg kg serve` answers beside /sparql, on the demo graph with two
annotated notes (one of them hostile HTML) and a concept whose label is hostile HTML (see conftest)."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote

import httpx
import pytest

from conftest import EXPLORER_NOTE, HOSTILE_NOTE
from medkg.explorer.views import accent_insensitive_pattern, search_concepts
from medkg.extract.linker import fold
from medkg.kg import namespaces as ns

NOTE_IRI = "https://w3id.org/medkg/id/document/note_tb"
HOSTILE_IRI = "https://w3id.org/medkg/id/document/" + quote("evil <doc>", safe="")


@pytest.fixture(scope="module")
def client(explorer_server):
    with httpx.Client(base_url=explorer_server.base_url, timeout=60) as c:
        yield c


class Page(HTMLParser):
    """The parts of a page the tests look at: links, the text of the annotated document, spans' data-href."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []   # (href, text)
        self.span_links: list[str] = []
        self.doc_text = ""
        self.scripts: list[dict] = []
        self._in_doc = 0
        self._link: list | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        if tag == "a":
            self._link = [attrs.get("href", ""), ""]
        if self._in_doc:
            self._in_doc += 1
        elif tag == "div" and "doc-text" in (attrs.get("class") or ""):
            self._in_doc = 1
        if "data-href" in attrs:
            self.span_links.append(attrs["data-href"])

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.links.append(tuple(self._link))
            self._link = None
        if self._in_doc:
            self._in_doc -= 1

    def handle_data(self, data):
        if self._in_doc:
            self.doc_text += data
        if self._link is not None:
            self._link[1] += data

    def hrefs(self) -> list[str]:
        return [href for href, _ in self.links]


def get(client, path: str, status: int = 200, **params) -> httpx.Response:
    response = client.get(path, params=params)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response


# -- pages -------------------------------------------------------------------------------------------------

def test_home_offers_search_saved_queries_documents_and_sources(client):
    response = get(client, "/")
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    page = Page(response.text)
    assert "/query?example=concept-by-label" in page.hrefs()
    assert f"/document?iri={quote(NOTE_IRI, safe='/')}" in page.hrefs()
    assert "Human Disease Ontology, infectious disease slim" in response.text  # a source with its title
    assert all(s.get("src", "").startswith("/static/") for s in page.scripts)  # no inline script, no CDN


def test_search_finds_concepts_by_any_label_in_any_language_ignoring_accents(client, explorer_store):
    page = Page(get(client, "/search", q="sarampion").text)  # the Wikidata label is "Sarampión"@es
    assert ("/concept?iri=" + quote(ns.WD + "Q79793", safe="")) in page.hrefs()
    hits, total = search_concepts(explorer_store, "Tubercolosi", lang="it")
    assert total >= 1 and hits[0].concept == ns.WD + "Q12204" and hits[0].lang == "it"
    hits, _ = search_concepts(explorer_store, "fever")
    assert hits[0].name.lower() == "fever"  # an exact name ranks before names that merely contain it
    hits, _ = search_concepts(explorer_store, "fiebre", lang="es")
    assert hits[0].concept == ns.OBO + "HP_0001945" and {h.lang for h in hits} == {"es"}
    assert ns.OBO + "HP_0001945" not in {h.concept for h in search_concepts(explorer_store, "fiebre", lang="it")[0]}


def test_search_by_identifier_and_cross_reference(client):
    page = Page(get(client, "/search", q="ICD10CM:B54").text)
    assert "/concept?iri=" + quote(ns.OBO + "DOID_12365", safe="") in page.hrefs()  # malaria carries B54
    page = Page(get(client, "/search", q="DOID:399").text)
    assert "/concept?iri=" + quote(ns.OBO + "DOID_399", safe="") in page.hrefs()


def test_search_text_is_matched_never_interpreted(explorer_store):
    assert search_concepts(explorer_store, ".*") == ([], 0)  # no name contains ".*" literally
    hits, _ = search_concepts(explorer_store, "FIEVRE maligne")
    assert [h.concept for h in hits] == ["https://example.org/evil"]
    pattern = accent_insensitive_pattern('a.b*(c)"]\\')
    assert pattern == '[aáàâäãå]\\.b\\*\\([cç]\\)"\\]\\\\'
    assert fold("Sarampión ÉLAN") == "sarampion elan"


def test_concept_page_shows_names_definition_hierarchy_xrefs_matches_passages_and_documents(client):
    response = get(client, "/concept", iri="DOID:399")
    page = Page(response.text)
    text = response.text
    assert "<h1>tuberculosis</h1>" in text
    assert "A primary bacterial infectious disease" in text                        # definition (IAO:0000115)
    assert "/concept?iri=" + quote(ns.OBO + "DOID_2957", safe="") in page.hrefs()  # a child
    assert "/concept?iri=" + quote(ns.OBO + "DOID_0050338", safe="") in page.hrefs()  # its parent
    assert any(label == "UMLS:C0041295" for _, label in page.links)               # a cross-reference
    assert "/concept?iri=" + quote(ns.WD + "Q12204", safe="") in page.hrefs()       # matched Wikidata item
    assert "https://en.wikipedia.org/wiki/Tuberculosis" in page.hrefs()            # article about it
    assert 'id="passages"' in text and "Mycobacterium" in text                     # passages mentioning it
    passages = text[text.index('id="passages"'):text.index('id="documents"')]
    assert "English Wikipedia (2015 revisions)" in passages and "CC-BY-SA-3.0" in passages  # with attribution
    # the note mentions pulmonary tuberculosis (DOID:2957), a subclass: it is listed, linked to its page
    assert f"/document?iri={quote(NOTE_IRI, safe='/')}" in page.hrefs()
    assert "Human Disease Ontology, infectious disease slim" in text               # provenance of statements


def test_concept_page_in_other_languages_and_translation_status(client):
    text = get(client, "/concept", iri="HP:0001945").text
    assert 'lang="es">Fiebre<' in text and 'lang="it">Febbre<' in text
    assert "official" in text and "candidate" in text  # Babelon translation status, per label


def test_unknown_concept_is_404_and_a_bad_reference_is_400(client):
    assert "Nothing in the graph" in get(client, "/concept", 404, iri="https://example.org/nothing").text
    assert "not a concept reference" in get(client, "/concept", 400, iri="not an iri").text
    get(client, "/concept", 400)


def test_document_page_shows_the_exact_text_with_linked_highlighted_spans(client):
    response = get(client, "/document", iri=NOTE_IRI)
    page = Page(response.text)
    assert page.doc_text == EXPLORER_NOTE  # tags stripped, the text is the document, character for character
    assert "/concept?iri=" + quote(ns.OBO + "DOID_2957", safe="") in page.span_links
    assert "/concept?iri=" + quote(ns.OBO + "HP_0001945", safe="") in page.span_links
    assert "a-negated" in response.text  # "no fever"
    assert response.text.count('class="ann ') >= 4
    # a concept link that resolves to a document goes to the document page
    redirect = client.get("/concept", params={"iri": NOTE_IRI})
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/document?iri=")
    assert "note_tb" in get(client, "/documents").text
    get(client, "/document", 404, iri="https://example.org/no-such-document")


def test_untrusted_text_labels_and_iris_are_escaped(client):
    for response in (get(client, "/document", iri=HOSTILE_IRI), get(client, "/concept", iri="https://example.org/evil"),
                     get(client, "/concept", iri="DOID:399"), get(client, "/documents"),
                     get(client, "/search", q="fièvre maligne"), get(client, "/search", q='<script>alert(1)</script>'),
                     get(client, "/query", query="SELECT * { ?s ?p ?o FILTER(?s = <https://example.org/evil>) }")):
        assert "<script>alert" not in response.text and "<img src=x" not in response.text
        assert 'href="javascript:' not in response.text.lower()
        assert "<b>fever</b>" not in response.text
    assert Page(get(client, "/document", iri=HOSTILE_IRI).text).doc_text == HOSTILE_NOTE
    # the javascript: IRI is shown and browsable inside the explorer, never as a link to open
    text = get(client, "/concept", iri="https://example.org/evil").text
    assert "javascript:alert(1)" in text


def test_sparql_editor_runs_saved_queries_and_user_queries(client):
    text = get(client, "/query", example="labels").text  # HP:0001945 in every language
    assert "Fiebre" in text and "Febbre" in text and "6 rows" in text
    assert "/concept?iri=" + quote(ns.RDFS + "label", safe="") in Page(text).hrefs()  # IRIs are links
    text = get(client, "/query", query="ASK { obo:DOID_399 rdfs:subClassOf obo:DOID_0050338 }").text
    assert "<strong>true</strong>" in text
    text = get(client, "/query", query="CONSTRUCT { obo:DOID_399 ?p ?o } WHERE { obo:DOID_399 ?p ?o }").text
    assert "<th>subject</th>" in text and "tuberculosis" in text
    error = get(client, "/query", 400, query="SELEC ?x").text
    assert "invalid SPARQL" in error and "SELEC ?x" in error  # the query stays in the editor
    get(client, "/query", 400, example="no-such-query")


def test_the_explorer_is_read_only(client):
    text = get(client, "/query", 400, query="DROP ALL").text
    assert "invalid SPARQL" in text or "evaluation failed" in text
    assert client.post("/query", data={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 1"}).status_code == 404
    assert "DOID_399" in get(client, "/query", query="SELECT ?s WHERE { ?s rdfs:label 'tuberculosis'@en }").text


def test_static_files_and_unknown_paths(client):
    assert get(client, "/static/explorer.js").headers["content-type"].startswith("text/javascript")
    assert get(client, "/static/explorer.css").headers["content-type"].startswith("text/css")
    assert "data-ann" in get(client, "/static/annotation_hover.js").text  # extract's script, shared
    get(client, "/static/app.py", 404)
    get(client, "/static/../app.py", 404)
    get(client, "/no/such/page", 404)


def test_the_sparql_endpoint_still_answers_beside_the_pages(client):
    response = client.get("/sparql", params={"query": "ASK { obo:DOID_399 ?p ?o }"},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200 and response.json()["boolean"] is True


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("explorer_flag", ["--explorer", "--no-explorer"])
def test_kg_serve_serves_the_explorer_unless_told_not_to(tmp_path, explorer_flag):
    import subprocess
    import sys
    import time

    from conftest import HOSTILE_TURTLE

    (tmp_path / "one.ttl").write_text(HOSTILE_TURTLE, encoding="utf-8")
    medkg = [sys.executable, "-m", "medkg.cli", "--home", str(tmp_path / "home")]
    subprocess.run([*medkg, "--quiet", "kg", "load", str(tmp_path / "one.ttl")], check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen([*medkg, "kg", "serve", "--port", str(port), explorer_flag],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                home = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.3)
        if explorer_flag == "--explorer":
            assert home.status_code == 200 and "Evidence explorer" in home.text
            page = httpx.get(f"http://127.0.0.1:{port}/search", params={"q": "fièvre"}, timeout=30)
            assert "https://example.org/evil" in page.text and "<img src=x" not in page.text
        else:
            assert home.status_code == 404
        assert httpx.get(f"http://127.0.0.1:{port}/sparql", params={"query": "ASK { ?s ?p ?o }"},
                         timeout=30).json()["boolean"] is True
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert ("Evidence explorer at" in stderr) == (explorer_flag == "--explorer")


def test_the_explorer_works_over_a_remote_sparql_store(explorer_server):
    """`medkg --endpoint URL kg serve`: the pages read a remote SPARQL 1.1 store (here: our own endpoint)."""
    from medkg.explorer import Explorer
    from medkg.kg.server import serve
    from medkg.kg.store import SparqlEndpointStore

    remote = SparqlEndpointStore(explorer_server.url, query_timeout=30)
    server = serve(remote, port=0, pages=Explorer(remote))
    server.start_background()
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as remote_client:
            text = get(remote_client, "/concept", iri="DOID:399").text
            assert "<h1>tuberculosis</h1>" in text and "A primary bacterial infectious disease" in text
            assert f"/document?iri={quote(NOTE_IRI, safe='/')}" in Page(text).hrefs()
            assert Page(get(remote_client, "/document", iri=NOTE_IRI).text).doc_text == EXPLORER_NOTE
            assert "Febbre" in get(remote_client, "/query", example="labels").text
            hits = Page(get(remote_client, "/search", q="sarampion").text).hrefs()
            assert "/concept?iri=" + quote(ns.WD + "Q79793", safe="") in hits
    finally:
        server.shutdown()
        server.server_close()


def test_a_document_annotated_before_texts_were_stored_still_shows_its_annotations(store):
    """Graphs written by an older medkg hold the annotations but not the text: the page lists the spans."""
    from conftest import explorer_documents
    from medkg.explorer import Explorer
    from medkg.extract.rdf import store_annotations
    from medkg.kg.server import PageRequest

    doc, annotations = explorer_documents()[0]
    store_annotations(store, doc, annotations)
    store.update("DELETE WHERE { GRAPH ?g { ?d nif:isString ?text } }")

    def no_user_queries(*_):
        raise AssertionError("the document page runs no user query")

    response = Explorer(store).handle(PageRequest("/document", {"iri": [NOTE_IRI]}, no_user_queries))
    text = response.body.decode("utf-8")
    assert response.status == 200 and "not its text" in text and 'class="doc-text"' not in text
    assert text.count("<tr data-ann=") == len(annotations) and "pulmonary tuberculosis" in text
