"""medkg against a real Virtuoso Open Source server (Debian's virtuoso-opensource), as a user points it there:
`medkg --endpoint …/sparql-auth` with credentials from the environment. Every result is compared with the
embedded store holding the same sources (`demo_store`), so "works on Virtuoso" means "gives the same answers".

The server is private to the session (conftest `virtuoso`); the tests skip naming the package without it.
"""
from __future__ import annotations

import json
from collections import Counter
from urllib.parse import quote

import httpx
import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from conftest import REPO, explorer_documents
from medkg.cli import app
from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.store import STAGING_SUFFIX, SparqlEndpointStore

runner = CliRunner()
SOURCES = [str(REPO / "ontologies"), str(REPO / "examples")]
USER_KEYS = ("MEDKG_ENDPOINT", "MEDKG_GRAPH_STORE", "MEDKG_ENDPOINT_USER", "MEDKG_ENDPOINT_PASSWORD")


def user_env(virtuoso) -> dict[str, str]:
    """What a user sets to point medkg at the store (the rest of instance.env is the test harness's)."""
    return {key: virtuoso[key] for key in USER_KEYS}


def remote(virtuoso, **changes) -> SparqlEndpointStore:
    settings = {"graph_store": virtuoso["MEDKG_GRAPH_STORE"], "user": virtuoso["MEDKG_ENDPOINT_USER"],
                "password": virtuoso["MEDKG_ENDPOINT_PASSWORD"], **changes}
    return SparqlEndpointStore(virtuoso["MEDKG_ENDPOINT"], query_timeout=120, **settings)


def medkg(virtuoso, home, *args, env=None):
    return runner.invoke(app, ["--home", str(home), *args], env=env or user_env(virtuoso))


def said(result) -> str:
    """Everything the user sees: the output, and the one-line error `medkg` prints for a MedkgError."""
    return result.output + (str(result.exception) if isinstance(result.exception, MedkgError) else "")


@pytest.fixture(scope="module")
def loaded(virtuoso, tmp_path_factory):
    """The shipped catalog and the demo articles loaded into Virtuoso with the CLI; (store, home, output)."""
    home = tmp_path_factory.mktemp("virtuoso-home")
    result = medkg(virtuoso, home, "kg", "load", *SOURCES)
    assert result.exit_code == 0, result.output
    store = remote(virtuoso)
    yield store, home, result.output
    store.close()


def triples_of(store, graph: str) -> set[str]:
    result = store.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}", timeout=300)
    return {str(t) for t in result.triples}


def rows_as_text(result) -> list[tuple]:
    return sorted(tuple(sorted((k, str(v)) for k, v in row.items())) for row in result.rows)


# -- loading ---------------------------------------------------------------------------------------------------

def test_the_catalog_and_demo_articles_load_into_the_same_graphs_as_embedded(loaded, demo_store, virtuoso):
    from medkg.kg.stats import graph_stats

    store, _, output = loaded
    assert store.http.graph_store_url() == virtuoso["MEDKG_GRAPH_STORE"]  # bulk loads took the protocol
    assert "loaded" in output and "wikipedia_sample.jsonl" in output
    assert virtuoso["MEDKG_ENDPOINT_PASSWORD"] not in output
    from medkg.extract.rdf import ANNOTATIONS_GRAPH_PREFIX

    def source_graphs(stats):  # the session's embedded demo store also holds documents other tests annotated
        return [g for g in stats.graphs if not g.graph.startswith(ANNOTATIONS_GRAPH_PREFIX)]

    def sources(stats):
        return {g.graph: g.triples for g in source_graphs(stats)}

    def source_labels(stats):  # labels per language over the source graphs (documents carry untagged labels)
        return dict(sum((Counter(g.labels_per_language) for g in source_graphs(stats)), Counter()))

    remote_stats, embedded_stats = graph_stats(store), graph_stats(demo_store)
    ours, embedded = sources(remote_stats), sources(embedded_stats)
    assert ours == embedded and len(ours) > 10
    # Counted in medkg's graphs only: Virtuoso's own owl# graph can hold classes and untagged labels.
    assert remote_stats.concepts == embedded_stats.concepts
    assert source_labels(remote_stats) == source_labels(embedded_stats)
    assert remote_stats.labels_per_language == source_labels(remote_stats)  # nothing from Virtuoso's own graphs
    assert "(none)" not in remote_stats.labels_per_language
    assert not [g for g in store.named_graphs() if g.endswith(STAGING_SUFFIX)]
    # The article graph holds the same triples, text and offsets included (no blank nodes there).
    articles = ns.graph_iri("wikipedia", "wikipedia_sample").value
    assert triples_of(store, articles) == triples_of(demo_store, articles)


def test_blank_nodes_virtuoso_names_nodeID_are_read(loaded, virtuoso, tmp_path):
    store, home, _ = loaded
    # Virtuoso's JSON results name blank nodes `nodeID://b10000`, which is not a blank node label: a user's OWL
    # restrictions (blank nodes) must come back as blank nodes, one per restriction, with their own values.
    source = tmp_path / "virtuoso_restrictions.ttl"
    source.write_text("@prefix ex: <https://example.org/r/> .\n@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
                      "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n" + "".join(
                          f"ex:C{i} rdfs:subClassOf [ a owl:Restriction ; owl:onProperty ex:p ; "
                          f"owl:someValuesFrom ex:T{i} ] .\n" for i in range(3)), encoding="utf-8")
    assert medkg(virtuoso, home, "kg", "load", str(source)).exit_code == 0
    graph = next(g for g in store.named_graphs() if g.endswith("/virtuoso_restrictions"))
    try:
        result = store.query("SELECT ?c ?b ?t WHERE { GRAPH ?g { ?c rdfs:subClassOf ?b . "
                             "?b owl:someValuesFrom ?t } }", bindings={"g": ox.NamedNode(graph)})
        assert all(isinstance(row["b"], ox.BlankNode) for row in result.rows)
        assert len({row["b"] for row in result.rows}) == 3
        assert sorted((row["c"].value[-2:], row["t"].value[-2:]) for row in result.rows) == [
            ("C0", "T0"), ("C1", "T1"), ("C2", "T2")]
    finally:
        store.drop_graph(ox.NamedNode(graph))


def test_reloading_unchanged_sources_changes_nothing(loaded, virtuoso):
    store, home, _ = loaded
    before = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows[0]["n"].value
    result = medkg(virtuoso, home, "kg", "load", *SOURCES)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if " triples " in line]
    assert lines and all(line.startswith("unchanged") for line in lines), result.output
    assert store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").rows[0]["n"].value == before


def big_turtle(n: int, *, broken_at: int | None = None) -> str:
    lines = ["@prefix ex: <https://example.org/v/> .", "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> ."]
    for i in range(n):
        if i == broken_at:
            lines.append('ex:broken rdfs:label "no closing quote .')
        lines.append(f'ex:c{i} rdfs:label "concept {i}"@en ; ex:next [ ex:n {i} ] .')
    return "\n".join(lines) + "\n"


def test_a_malformed_file_leaves_the_store_as_it_was(loaded, virtuoso, tmp_path):
    store, home, _ = loaded
    source = tmp_path / "virtuoso_extra.ttl"
    source.write_text(big_turtle(30_000), encoding="utf-8")  # 90,000 triples: two protocol requests
    assert medkg(virtuoso, home, "kg", "load", str(source)).exit_code == 0
    graph = next(g for g in store.named_graphs() if g.endswith("/virtuoso_extra"))
    before = triples_of(store, graph)
    assert len(before) == 90_000
    # Broken past the first request's worth of triples: the staging graph has been written to when it fails.
    source.write_text(big_turtle(30_000, broken_at=25_000), encoding="utf-8")
    result = medkg(virtuoso, home, "kg", "load", str(source))
    assert result.exit_code != 0
    assert "virtuoso_extra.ttl:" in said(result) and "invalid" in said(result).lower()
    assert triples_of(store, graph) == before
    assert graph + STAGING_SUFFIX not in store.named_graphs()
    # A new source that fails leaves no graph behind.
    fresh = tmp_path / "virtuoso_fresh.ttl"
    fresh.write_text(big_turtle(20_000, broken_at=19_000), encoding="utf-8")
    assert medkg(virtuoso, home, "kg", "load", str(fresh)).exit_code != 0
    assert not [g for g in store.named_graphs() if "virtuoso_fresh" in g]
    # Blank nodes stay blank nodes and keep their identity across the requests of one load (each [ ex:n i ]
    # stays one node with its one value).
    assert distinct_blank_nodes(store, graph) == (30_000, 30_000)


def distinct_blank_nodes(store, graph: str) -> tuple[int, int]:
    """(blank nodes that are ex:next of a concept, those of them with an ex:n value) in `graph`."""
    row = store.query("SELECT (COUNT(DISTINCT ?b) AS ?nodes) (COUNT(DISTINCT ?with) AS ?valued) WHERE { "
                      "GRAPH ?g { ?c <https://example.org/v/next> ?b FILTER(isBlank(?b)) "
                      "OPTIONAL { ?b <https://example.org/v/n> ?v BIND(?b AS ?with) } } }",
                      bindings={"g": ox.NamedNode(graph)}).rows[0]
    return int(row["nodes"].value), int(row["valued"].value)


def test_sparql_update_is_used_where_the_graph_store_protocol_is_absent(virtuoso, tmp_path):
    from medkg.kg.loading import load_paths

    source = tmp_path / "by_update.ttl"
    source.write_text(big_turtle(1_500), encoding="utf-8")
    store = remote(virtuoso, graph_store="")
    try:
        assert store.http.graph_store_url() is None
        reports = load_paths(store, [source])
        assert reports[0].triples == 4_500
        graph = reports[0].graph
        assert len(triples_of(store, graph)) == 4_500
        assert distinct_blank_nodes(store, graph) == (1_500, 1_500)  # over three INSERT DATA requests
    finally:
        store.close()


# -- credentials -----------------------------------------------------------------------------------------------

def test_a_wrong_password_is_a_clear_error_that_never_shows_a_password(loaded, virtuoso):
    _, home, _ = loaded
    wrong = {**user_env(virtuoso), "MEDKG_ENDPOINT_PASSWORD": "not-the-password-1234"}
    result = medkg(virtuoso, home, "kg", "stats", env=wrong)
    assert result.exit_code != 0
    assert "credentials were refused" in said(result) and "401" in said(result)
    assert "not-the-password-1234" not in said(result) and virtuoso["MEDKG_ENDPOINT_PASSWORD"] not in said(result)
    anonymous = {**user_env(virtuoso), "MEDKG_ENDPOINT_USER": "", "MEDKG_ENDPOINT_PASSWORD": ""}
    result = medkg(virtuoso, home, "kg", "stats", env=anonymous)
    assert result.exit_code != 0 and "needs credentials" in said(result)


def test_settings_never_show_the_password(virtuoso):
    from medkg.config import load_settings

    settings = load_settings(endpoint_user="medkg", endpoint_password="s3cret-pw")
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in repr(remote(virtuoso, password="s3cret-pw").http)


# -- queries: the same answers as the embedded store ----------------------------------------------------------

def test_saved_queries_give_the_same_rows_as_the_embedded_store(loaded, demo_store):
    from medkg.kg.queries import SAVED_QUERIES, run_saved

    store, _, _ = loaded
    compared = 0
    for name, query in SAVED_QUERIES.items():
        ours, embedded = run_saved(store, name, **query.example), run_saved(demo_store, name, **query.example)
        assert ours.variables == embedded.variables, name
        assert rows_as_text(ours) == rows_as_text(embedded), name
        compared += bool(embedded.rows)
    assert compared == len(SAVED_QUERIES)  # every example answers, so every comparison means something


def test_kg_stats_and_query_commands_answer_over_virtuoso(loaded, virtuoso):
    _, home, _ = loaded
    stats = medkg(virtuoso, home, "kg", "stats")
    assert stats.exit_code == 0, stats.output
    assert "wikipedia_sample" in stats.output and "disease-symptom.sample" in stats.output
    result = medkg(virtuoso, home, "kg", "saved", "concept-by-label", "text=Tubercolosi", "lang=it", "--format", "json")
    assert result.exit_code == 0, result.output
    assert ns.WD + "Q12204" in result.output or "DOID_399" in result.output


@pytest.mark.parametrize("question, lang", [("Which drug treats tuberculosis?", "en"),
                                            ("Quale farmaco cura la tubercolosi?", "it"),
                                            ("¿Qué fármaco trata la tuberculosis?", "es")])
def test_search_mode_graph_finds_the_same_evidence(loaded, virtuoso, demo_store, tmp_path, question, lang):
    from medkg.rag.retrieve import Retriever

    _, home, _ = loaded
    result = medkg(virtuoso, home, "search", question, "--mode", "graph", "--lang", lang, "--format", "json")
    assert result.exit_code == 0, result.output
    ours = json.loads(result.stdout[result.stdout.index("{"):])
    embedded = Retriever(demo_store, None, None, tmp_path / "cache").retrieve(question, mode="graph", lang=lang, k=5)
    assert ours["facts"] and [f["fact"]["text"] for f in ours["facts"]] == [f.fact.text for f in embedded.facts]
    assert ours["passages"] and [p["passage"]["iri"] for p in ours["passages"]] == \
        [p.passage.iri for p in embedded.passages]


# -- documents: annotate --format rdf writes them, extract.queries and the explorer read them ------------------

def test_annotations_written_with_format_rdf_are_read_back(loaded, virtuoso, model_home, tmp_path):
    from medkg.extract.queries import INFECTIOUS_DISEASE, annotated_documents, documents_mentioning, read_document

    store, _, _ = loaded
    notes = REPO / "examples" / "notes"
    # The models workspace (backbone converted once); the graph is Virtuoso's.
    result = runner.invoke(app, ["--home", str(model_home), "annotate", str(notes / "note_en_tb.txt"),
                                 str(notes / "nota_it_polmonite.txt"), str(notes / "nota_es_apendicitis.txt"),
                                 "--format", "rdf", "--out", str(tmp_path / "out"), "--precision", "fp32"],
                           env=user_env(virtuoso))
    assert result.exit_code == 0, result.output
    documents = {d.iri.rsplit("/", 1)[-1]: d for d in annotated_documents(store)}
    assert {"note_en_tb", "nota_it_polmonite", "nota_es_apendicitis"} <= set(documents)
    texts = {}
    for m in documents_mentioning(store, INFECTIOUS_DISEASE):
        texts.setdefault(m.document.rsplit("/", 1)[-1], set()).add(m.text)
    assert "pulmonary tuberculosis" in texts["note_en_tb"]
    assert "nota_es_apendicitis" not in texts
    # The annotation bodies are blank nodes there as in the embedded store, not IRIs a concept query would list.
    genid = f"{ns.MEDKG}.well-known/genid/"
    assert not store.query(f'ASK {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?s), "{genid}")) }}').boolean
    assert store.query("ASK { GRAPH ?g { ?a <http://www.w3.org/ns/oa#hasBody> ?b } FILTER(isBlank(?b)) }").boolean
    stored = read_document(store, documents["nota_it_polmonite"].iri)
    original = (notes / "nota_it_polmonite.txt").read_text(encoding="utf-8")
    assert stored.document.text == original and stored.annotations
    for annotation in stored.annotations:  # offsets survive the round trip through Virtuoso
        assert original[annotation.start:annotation.end] == annotation.text


def test_the_explorer_pages_read_virtuoso(loaded, demo_store):
    from medkg.explorer import Explorer
    from medkg.kg.queries import SAVED_QUERIES, run_saved
    from medkg.extract.queries import annotated_documents
    from medkg.extract.rdf import store_annotations
    from medkg.kg.server import serve

    store, _, _ = loaded
    doc, annotations = explorer_documents()[0]
    store_annotations(store, doc, annotations)
    note = next(d.iri for d in annotated_documents(store) if d.id == doc.id)
    server = serve(store, port=0, pages=Explorer(store))
    server.start_background()
    try:
        with httpx.Client(base_url=server.base_url, timeout=120) as client:
            concept = client.get("/concept", params={"iri": "DOID:399"}).text
            assert "<h1>tuberculosis</h1>" in concept and "A primary bacterial infectious disease" in concept
            page = client.get("/document", params={"iri": note})
            assert page.status_code == 200 and "pulmonary tuberculosis" in page.text
            assert page.text.count("<tr data-ann=") == len(annotations)
            assert f"/document?iri={quote(note, safe='/')}" in client.get("/documents").text
            hits = client.get("/search", params={"q": "sarampion"}).text
            assert "/concept?iri=" + quote(ns.WD + "Q79793", safe="") in hits
            assert "Febbre" in client.get("/query", params={"example": "labels"}).text
            # The example as the editor shows it runs right there too (a VALUES-bound IRI starting the path
            # made Virtuoso return every passage of the graph).
            shown = client.get("/query", params={"example": "passages"}).text
            rows = len(run_saved(demo_store, "passages", **SAVED_QUERIES["passages"].example).rows)
            assert 0 < rows < 100 and f"{rows} rows in" in shown
    finally:
        server.shutdown()
        server.server_close()


def test_remote_errors_name_the_endpoint_and_the_problem(loaded):
    store, _, _ = loaded
    with pytest.raises(MedkgError, match="invalid SPARQL"):
        store.query("SELECT ?x WHERE { ?x ?y }")


def test_index_build_and_path_traces_over_virtuoso_match_the_embedded_store(loaded, virtuoso, demo_home, tmp_path):
    """`medkg index build` reads the passages from Virtuoso; `traces generate` finds the same graph paths
    (concept graph, facts, labels, passages) as over the embedded demo graph, in en, it and es."""
    _, home, _ = loaded
    built = medkg(virtuoso, home, "index", "build", "--no-dense")
    assert built.exit_code == 0, built.output
    questions = str(REPO / "examples" / "mcq" / "relations_demo.jsonl")
    rows = {}
    for name, run in (("virtuoso", lambda *a: medkg(virtuoso, home, *a)),
                      ("embedded", lambda *a: runner.invoke(app, ["--home", str(demo_home), *a]))):
        out = tmp_path / f"{name}.jsonl"
        result = run("traces", "generate", questions, "--out", str(out), "--format", "json")
        assert result.exit_code == 0, result.output
        rows[name] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["language"] for r in rows["virtuoso"] if r["verified"]] == ["en", "it", "es"]
    for ours, embedded in zip(rows["virtuoso"], rows["embedded"], strict=True):
        assert ours["paths"] == embedded["paths"] and ours["trace"] == embedded["trace"]


def test_a_result_virtuoso_cut_at_its_row_cap_is_refused(tmp_path):
    """A Virtuoso with the packaged caps returns 10,000 rows of a larger result, with no sign of it: medkg
    refuses such an answer instead of using a part as the whole."""
    import os
    import shutil
    import subprocess

    from medkg.kg.loading import load_paths

    if not shutil.which("virtuoso-t"):
        pytest.skip("needs Virtuoso: `make virtuoso` installs Debian's package virtuoso-opensource")
    script = [str(REPO / "scripts" / "virtuoso.sh")]
    folder = tmp_path / "packaged"
    subprocess.run(["bash", *script, "start", str(folder)], check=True, capture_output=True, timeout=120,
                   env={**os.environ, "PACKAGED_LIMITS": "1"})
    try:
        settings = dict(line.split("=", 1) for line in (folder / "instance.env").read_text().splitlines())
        store = remote(settings)
        source = tmp_path / "many.ttl"
        source.write_text(big_turtle(12_000), encoding="utf-8")
        load_paths(store, [source])
        with pytest.raises(MedkgError, match="cut short"):
            store.query("SELECT ?c WHERE { ?c rdfs:label ?name }")
        assert len(store.query("SELECT ?c WHERE { ?c rdfs:label ?name } LIMIT 10000").rows) == 10_000
        store.close()
        # Started again on its folder, the instance keeps its data, ports and credentials.
        subprocess.run(["bash", *script, "stop", str(folder)], check=True, capture_output=True, timeout=120)
        again = subprocess.run(["bash", *script, "start", str(folder)], capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and "again" in again.stdout, again.stderr
        assert dict(line.split("=", 1) for line in (folder / "instance.env").read_text().splitlines()) == settings
        store = remote(settings)
        assert len(store.query("SELECT ?c WHERE { ?c rdfs:label ?name } LIMIT 10000").rows) == 10_000
        store.close()
    finally:
        subprocess.run(["bash", *script, "stop", str(folder)], check=False, capture_output=True, timeout=120)
