"""Store behaviour: idempotent reloads, atomic replacement, provenance, time limits, SPARQL errors."""
from __future__ import annotations

import time

import pytest
from pyoxigraph import Literal, NamedNode

from conftest import DATA, dump
from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.loading import Source, load_paths, load_source
from medkg.kg.store import QueryTimeout


def test_loading_the_same_sources_again_changes_nothing(store):
    paths = [DATA / "mini.obo", DATA / "mini_wikidata.jsonl", DATA / "mini_wikipedia.jsonl"]
    first = load_paths(store, paths)
    assert [r.status for r in first] == ["loaded"] * 3
    before = dump(store)
    again = load_paths(store, paths)
    assert [r.status for r in again] == ["unchanged"] * 3
    assert dump(store) == before
    # Forcing a reload rebuilds every graph, and (load time aside) yields the same triples.
    forced = load_paths(store, paths, force=True)
    assert [r.status for r in forced] == ["replaced"] * 3
    without_time = lambda quads: {q for q in quads if "generatedAtTime" not in q}  # noqa: E731
    assert without_time(dump(store)) == without_time(before)


def test_a_changed_source_replaces_its_graph(store, tmp_path):
    path = tmp_path / "onto.ttl"
    path.write_text('<http://example.org/a> <http://example.org/p> "v1" .\n')
    load_source(store, Source(path))
    path.write_text('<http://example.org/a> <http://example.org/p> "v2" .\n')
    report = load_source(store, Source(path))
    assert report.status == "replaced" and report.triples == 1
    values = {q.object.value for q in store.ox.quads_for_pattern(NamedNode("http://example.org/a"), None, None, None)}
    assert values == {"v2"}
    assert not any(g.endswith("/.staging") for g in store.named_graphs())


def test_provenance_of_each_named_graph(store):
    report = load_source(store, Source(DATA / "mini.obo"))
    rows = store.query("SELECT ?p ?o WHERE { GRAPH medkg:graph\\/meta { ?g ?p ?o } }",
                       bindings={"g": NamedNode(report.graph)}).rows
    facts = {row["p"].value: row["o"].value for row in rows}
    assert facts[ns.PROV + "wasDerivedFrom"] == (DATA / "mini.obo").resolve().as_uri()
    assert facts[ns.OWL + "versionInfo"] == "mini/releases/2026-01-01"
    assert facts[ns.PROV + "generatedAtTime"].startswith("20")
    assert facts[ns.MEDKG + "tripleCount"] == str(report.triples)


def test_catalog_metadata_reaches_provenance(store, tmp_path):
    (tmp_path / "mini.obo").write_text((DATA / "mini.obo").read_text())
    (tmp_path / "catalog.toml").write_text('[[source]]\npath = "mini.obo"\nlicence = "CC0-1.0"\n'
                                           'version = "v7"\nformat = "obo"\n')
    [report] = load_paths(store, [tmp_path])
    licence = store.query("SELECT ?l ?v WHERE { ?g dcterms:license ?l ; owl:versionInfo ?v }",
                          bindings={"g": NamedNode(report.graph)}).rows
    assert [(r["l"].value, r["v"].value) for r in licence] == [("CC0-1.0", "v7")]


def test_invalid_sparql_is_a_user_error(store):
    with pytest.raises(MedkgError, match="invalid SPARQL"):
        store.query("SELECT ?x WHERE { ?x ?p }")


def test_a_query_past_its_time_limit_is_stopped(store):
    load_source(store, Source(DATA / "mini.obo"))
    started = time.perf_counter()
    # A five-way cross product of the ~40 triples: about 8 s of work, which then ends in the background
    # (in-process evaluation cannot be cancelled; the HTTP endpoint kills its query processes instead).
    with pytest.raises(QueryTimeout, match="timed out"):
        store.query("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }",
                    timeout=0.3)
    assert time.perf_counter() - started < 2


def test_bindings_must_be_terms(store):
    with pytest.raises(MedkgError, match="IRI or a literal"):
        store.query("SELECT ?x WHERE { ?x ?p ?o }", bindings={"o": "plain string"})
    with pytest.raises(MedkgError, match="variable name"):
        store.query("SELECT ?x WHERE { ?x ?p ?o }", bindings={"o} . DROP": Literal("x")})


def test_the_same_store_through_rdflib(store):
    """Users who live in rdflib get a Dataset over the very same Oxigraph store."""
    from rdflib import Literal as RdflibLiteral
    from rdflib import URIRef

    load_source(store, Source(DATA / "mini.obo"))
    dataset = store.rdflib
    labels = set(dataset.objects(URIRef(ns.OBO + "DOID_399"), URIRef(ns.RDFS + "label")))
    assert labels == {RdflibLiteral("tuberculosis", lang="en")}
    rows = list(dataset.query("SELECT ?c WHERE { GRAPH ?g { ?c oboInOwl:hasDbXref 'UMLS:C0041296' } }"))
    assert [str(row.c) for row in rows] == [ns.OBO + "DOID_399"]
