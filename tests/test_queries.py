"""Saved queries on the demo graph: multilingual lookup, xrefs both ways, hierarchy, evidence, injection."""
from __future__ import annotations

import pytest

from conftest import dump
from medkg.errors import MedkgError
from medkg.kg.queries import SAVED_QUERIES, concept_term, run_saved


def concepts(result, column="concept") -> set[str]:
    return {row[column].value.rsplit("/", 1)[-1] for row in result.rows}


def test_concept_by_italian_and_spanish_names(demo_store):
    assert concepts(run_saved(demo_store, "concept-by-label", text="Tubercolosi", lang="it")) == {"Q12204"}
    assert concepts(run_saved(demo_store, "concept-by-label", text="sarampión", lang="es")) == {"Q79793"}
    # HPO translations: an official Italian label and a Spanish one.
    assert concepts(run_saved(demo_store, "concept-by-label", text="Insufficienza renale acuta", lang="it")) == {
        "HP_0001919"}
    assert "HP_0001945" in concepts(run_saved(demo_store, "concept-by-label", text="Fiebre"))
    # The language filter is a filter: the Italian name is not an English one.
    assert not run_saved(demo_store, "concept-by-label", text="Tubercolosi", lang="en").rows


def test_xrefs_in_both_directions(demo_store):
    assert concepts(run_saved(demo_store, "by-xref", xref="ICD10CM:B54")) == {"DOID_12365"}
    # UMLS_CUI: is normalised to UMLS:, and the CUI joins DOID and Wikidata.
    assert concepts(run_saved(demo_store, "by-xref", xref="UMLS_CUI:C0025007")) == {"DOID_8622", "Q79793"}
    xrefs = {row["xref"].value for row in run_saved(demo_store, "xrefs", concept="DOID:12365").rows}
    assert {"ICD10CM:B54", "UMLS:C0024530"} <= xrefs


def test_hierarchy(demo_store):
    ancestors = run_saved(demo_store, "ancestors", concept="DOID:8622")
    assert [r["ancestor"].value.rsplit("_", 1)[-1] for r in ancestors.rows] == ["934", "0050117"]
    descendants = concepts(run_saved(demo_store, "descendants", concept="DOID:399"), "descendant")
    assert "DOID_2957" in descendants and len(descendants) > 10  # pulmonary tuberculosis and its kin
    assert "HP_0000118" in concepts(run_saved(demo_store, "ancestors", concept="HP:0001945"), "ancestor")


def test_cross_source_matches_carry_their_evidence(demo_store):
    rows = run_saved(demo_store, "equivalents", concept="wd:Q12204").rows
    found = {(r["match"].value.rsplit("/", 1)[-1], r["relation"].value.rsplit("#", 1)[-1], r["evidence"].value)
             for r in rows}
    # DOID by a shared MeSH id; WHO ICD-10's tuberculosis block by its code range.
    assert found == {("DOID_399", "exactMatch", "MESH:D014376"), ("A15-A19", "closeMatch", "ICD10:A15-A19")}


def test_passages_reach_a_concept_through_its_descendants_and_matches(demo_store):
    rows = run_saved(demo_store, "passages", concept="DOID:8622").rows
    articles = {r["article"].value for r in rows}
    assert "https://en.wikipedia.org/wiki/Measles" in articles
    mentioned = {r["mentioned"].value.rsplit("/", 1)[-1] for r in rows}
    assert {"DOID_8622", "Q79793"} <= mentioned
    for row in rows:
        assert "measles" in row["text"].value.lower() or "rubeola" in row["text"].value.lower()


def test_articles_in_every_language_from_an_ontology_concept(demo_store):
    rows = run_saved(demo_store, "articles", concept="DOID:399").rows
    assert {(r["lang"].value, r["title"].value) for r in rows} == {
        ("en", "Tuberculosis"), ("es", "Tuberculosis"), ("it", "Tubercolosi")}


@pytest.mark.parametrize("attack", [
    'x" } ; DROP ALL ; #',
    "x' } } DELETE WHERE { ?s ?p ?o } #",
    '"} UNION { ?concept ?via ?name } #',
    "Tubercolosi\\\" } ; CLEAR ALL",
    "} ; DROP",
])
def test_parameters_cannot_inject_sparql(demo_store, attack):
    before = len(dump(demo_store))
    assert run_saved(demo_store, "concept-by-label", text=attack).rows == []
    assert len(dump(demo_store)) == before


def test_bad_parameters_are_user_errors(demo_store):
    with pytest.raises(MedkgError, match="missing parameter 'text'"):
        run_saved(demo_store, "concept-by-label")
    with pytest.raises(MedkgError, match="unknown parameter"):
        run_saved(demo_store, "ancestors", concept="DOID:4", depth="3")
    with pytest.raises(MedkgError, match="not a concept reference"):
        concept_term("tuberculosis of the lung")
    with pytest.raises(MedkgError, match="not a valid IRI"):
        concept_term("<http://example.org/a b>")
    with pytest.raises(MedkgError, match="not a language tag"):
        run_saved(demo_store, "concept-by-label", text="x", lang="it'} DROP")
    with pytest.raises(MedkgError, match="no saved query"):
        run_saved(demo_store, "drop-everything")


def test_every_saved_query_runs(demo_store):
    examples = {"concept": "DOID:399", "text": "malaria", "lang": "en", "xref": "MESH:D008288"}
    for query in SAVED_QUERIES.values():
        args = {p.name: examples[p.name] for p in query.params}
        assert run_saved(demo_store, query.name, **args).kind == "select"
