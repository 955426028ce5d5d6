"""The SPARQL endpoint over real HTTP, with SPARQLWrapper as the client — which also exercises the remote-store
path end to end (medkg's SparqlEndpointStore loading into and querying `medkg kg serve`)."""
from __future__ import annotations

import csv
import io
import time
import urllib.error
import urllib.request

import pytest
from SPARQLWrapper import CSV, JSON, POST, TSV, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from conftest import DATA, dump
from medkg.errors import MedkgError
from medkg.kg.loading import load_paths
from medkg.kg.queries import run_saved
from medkg.kg.server import serve
from medkg.kg.store import OxigraphStore, QueryTimeout, SparqlEndpointStore

FEVER = "SELECT ?c WHERE { ?c <http://www.w3.org/2000/01/rdf-schema#label> \"Fiebre\"@es }"
HP_FEVER = "http://purl.obolibrary.org/obo/HP_0001945"


@pytest.fixture(scope="module")
def read_only_endpoint(demo_store):
    server = serve(demo_store, port=0, timeout=1.0)
    server.start_background()
    yield server.url
    server.shutdown()
    server.server_close()


def client(url, fmt=JSON):
    wrapper = SPARQLWrapper(url)
    wrapper.setReturnFormat(fmt)
    return wrapper


def test_select_in_every_results_format(read_only_endpoint):
    c = client(read_only_endpoint)
    c.setQuery(FEVER)
    bindings = c.query().convert()["results"]["bindings"]
    assert [b["c"]["value"] for b in bindings] == [HP_FEVER]
    c = client(read_only_endpoint, XML)
    c.setQuery(FEVER)
    assert HP_FEVER in c.query().convert().toxml()
    for fmt, delimiter in ((CSV, ","), (TSV, "\t")):
        c = client(read_only_endpoint, fmt)
        c.setQuery(FEVER)
        text = c.query().convert().decode("utf-8")
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        assert rows[0][0].lstrip("?") == "c" and HP_FEVER in rows[1][0]


def test_post_ask_and_construct(read_only_endpoint):
    c = client(read_only_endpoint)
    c.setMethod(POST)
    c.setQuery(f"ASK {{ <{HP_FEVER}> ?p ?o }}")
    assert c.query().convert()["boolean"] is True
    c = client(read_only_endpoint, TURTLE)
    c.setQuery(f"CONSTRUCT {{ <{HP_FEVER}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }} "
               f"WHERE {{ <{HP_FEVER}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}")
    turtle = c.query().convert().decode("utf-8")
    assert '"Fiebre"@es' in turtle and '"Febbre"@it' in turtle


def test_accept_header_negotiation_over_plain_http(read_only_endpoint):
    from urllib.parse import quote

    request = urllib.request.Request(f"{read_only_endpoint}?query={quote(FEVER)}",
                                     headers={"Accept": "text/csv;q=0.5, text/tab-separated-values"})
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Type"].startswith("text/tab-separated-values")
        assert f"<{HP_FEVER}>" in response.read().decode()


def test_read_only_endpoint_refuses_updates(read_only_endpoint, demo_store):
    before = len(dump(demo_store))
    c = client(read_only_endpoint)
    c.setMethod(POST)
    c.setQuery("DROP ALL")
    with pytest.raises(urllib.error.HTTPError) as caught:  # SPARQLWrapper passes a 403 through as it is
        c.query()
    assert caught.value.code == 403 and b"read-only" in caught.value.read()
    assert len(dump(demo_store)) == before


def test_invalid_query_is_a_bad_request(read_only_endpoint):
    c = client(read_only_endpoint)
    c.setQuery("SELECT ?x WHERE { ?x ?p }")
    with pytest.raises(QueryBadFormed):
        c.query()


def test_query_timeout_fires_and_the_query_is_killed(read_only_endpoint):
    c = client(read_only_endpoint)
    c.setQuery("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")
    started = time.perf_counter()
    with pytest.raises(urllib.error.HTTPError) as caught:
        c.query()
    assert caught.value.code == 503 and b"timed out" in caught.value.read()
    assert time.perf_counter() - started < 5
    # The endpoint still answers afterwards.
    c.setQuery(FEVER)
    assert c.query().convert()["results"]["bindings"]


def canonical(result) -> list:
    """Rows as comparable values; GROUP_CONCAT lists (evidence) have no defined order in SPARQL."""
    return sorted(sorted((k, " ".join(sorted(v.value.split())) if k == "evidence" else str(v)) for k, v in row.items())
                  for row in result.rows)


def test_remote_store_end_to_end(tmp_path):
    """Load, reload, query and fail to load against `kg serve --allow-update`, all over HTTP."""
    backing = OxigraphStore(tmp_path / "remote")
    server = serve(backing, port=0, allow_update=True, timeout=30)
    server.start_background()
    try:
        remote = SparqlEndpointStore(server.url)
        paths = [DATA / "mini.obo", DATA / "mini_wikidata.jsonl", DATA / "mini_wikipedia.jsonl",
                 DATA / "mini-it.babelon.tsv"]
        assert [r.status for r in load_paths(remote, paths)] == ["loaded"] * 4
        before = dump(backing)
        assert [r.status for r in load_paths(remote, paths)] == ["unchanged"] * 4
        assert dump(backing) == before
        # The same saved queries answer the same over HTTP as in-process.
        local = OxigraphStore(None)
        load_paths(local, paths)
        for name, args in [("concept-by-label", {"text": "Tubercolosi", "lang": "it"}),
                           ("equivalents", {"concept": "DOID:399"}), ("passages", {"concept": "DOID:399"}),
                           ("labels", {"concept": "HP:0001945"})]:
            assert canonical(run_saved(remote, name, **args)) == canonical(run_saved(local, name, **args)), name
        assert run_saved(remote, "concept-by-label", text='x" } ; DROP ALL ; #').rows == []
        # A malformed source fails with its line and leaves the remote store as it was.
        bad = tmp_path / "mini_wikidata.jsonl"
        bad.write_text((DATA / "mini_wikidata.jsonl").read_text() + "{broken\n")
        with pytest.raises(MedkgError) as caught:
            load_paths(remote, [bad])
        assert caught.value.line == 3
        assert dump(backing) == before
    finally:
        server.shutdown()
        server.server_close()


def test_remote_timeout_and_refusal_become_medkg_errors(read_only_endpoint):
    remote = SparqlEndpointStore(read_only_endpoint)
    with pytest.raises(QueryTimeout, match="timed out"):
        remote.query("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")
    with pytest.raises(MedkgError, match="read-only"):
        remote.update("DROP ALL")


def test_unreachable_endpoint_is_a_clear_error():
    store = SparqlEndpointStore("http://127.0.0.1:9/sparql", query_timeout=2)
    with pytest.raises(MedkgError, match="cannot reach|endpoint"):
        store.query("ASK { ?s ?p ?o }")


def test_a_store_that_comes_up_late_is_retried_not_failed(demo_store):
    """Connection refused is transient (a store restarting): the request is retried with back-off."""
    import socket
    import threading

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = {}

    def start_later():
        time.sleep(1.0)
        started["server"] = serve(demo_store, port=port, timeout=10)
        started["server"].start_background()

    threading.Thread(target=start_later, daemon=True).start()
    remote = SparqlEndpointStore(f"http://127.0.0.1:{port}/sparql", query_timeout=10)
    try:
        assert HP_FEVER in remote.query(FEVER).values("c")
    finally:
        for _ in range(50):
            if "server" in started:
                break
            time.sleep(0.1)
        started["server"].shutdown()
        started["server"].server_close()
