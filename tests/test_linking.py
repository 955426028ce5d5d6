"""Cross-source matching and passage mentions; sentence-bounded passages; the Wikidata query converter."""
from __future__ import annotations

import ahocorasick
from pyoxigraph import NamedNode

from conftest import DATA
from medkg.kg import namespaces as ns
from medkg.kg.linking import find_mentions
from medkg.kg.loading import load_paths
from medkg.kg.passages import MAX_WORDS, split_passages, split_sections
from medkg.kg.readers.wikidata import record_quads, records_from_rows, records_query


def automaton(names: dict[str, str]) -> ahocorasick.Automaton:
    a = ahocorasick.Automaton()
    for name, concept in names.items():
        a.add_word(name.lower(), (len(name), {name: frozenset({concept})}))
    a.make_automaton()
    return a


def test_mentions_are_whole_words_longest_first_and_acronyms_keep_case():
    names = automaton({"tuberculosis": "TB-disease", "pulmonary tuberculosis": "PTB", "TB": "TB-acronym",
                       "cough": "cough"})
    text = "Pulmonary tuberculosis (TB) causes coughing; tb is lower case; Tuberculosis again."
    found = [(text[s:e], sorted(c)) for s, e, c in find_mentions(text, names)]
    assert found == [("Pulmonary tuberculosis", ["PTB"]), ("TB", ["TB-acronym"]),
                     ("Tuberculosis", ["TB-disease"])]  # not "cough" in "coughing", not "tb"


def test_relink_matches_sources_and_links_passages(store):
    load_paths(store, [DATA / "mini.obo", DATA / "mini_wikidata.jsonl", DATA / "mini_wikipedia.jsonl"])
    doid, item = ns.obo_iri("DOID:399"), NamedNode(ns.WD + "Q12204")
    assert list(store.ox.quads_for_pattern(doid, ns.SKOS_EXACT_MATCH, item, ns.LINKS_GRAPH))
    evidence = store.query("SELECT ?x WHERE { ?a owl:annotatedSource ?s ; owl:annotatedTarget ?t ; "
                           "medkg:sharedXref ?x }", bindings={"s": doid, "t": item}).values("x")
    assert sorted(evidence) == ["ICD10:A15-A19", "MESH:D014376", "UMLS:C0041296"]
    mentioned = {q.object.value.rsplit("/", 1)[-1] for q in
                 store.ox.quads_for_pattern(None, ns.SCHEMA_MENTIONS, None, ns.MENTIONS_GRAPH)}
    # "Pulmonary tuberculosis" in the text is DOID:2957; the root "disease" names nothing; the obsolete term
    # is never linked.
    assert {"DOID_399", "DOID_2957", "Q12204"} <= mentioned
    assert "DOID_4" not in mentioned and "DOID_9999" not in mentioned


def test_passages_pack_sentences_within_sections():
    sentence = "The patient had a persistent cough and fever for three weeks before admission. "
    text = "Lead sentence here.\n== Course ==\n" + sentence * 60 + "\n== Outcome ==\nRecovered fully."
    sections = split_sections(text)
    assert [s.title for s in sections] == [None, "Course", "Outcome"]
    passages = split_passages(text, sections)
    course = [p for p in passages if p.section == 1]
    assert len(course) >= 3
    for p in course:
        words = len(text[p.start:p.end].split())
        assert words <= MAX_WORDS and text[p.start:p.end].endswith("admission.")
    assert text[passages[-1].start:passages[-1].end] == "Recovered fully."


def test_wikidata_service_query_converts_through_the_same_converter(store, tmp_path):
    """The WDQS query, run against a store holding Wikidata-shaped triples, yields JSONL-shaped records."""
    wd = tmp_path / "wd.ttl"
    wd.write_text("""@prefix wd: <http://www.wikidata.org/entity/> . @prefix wdt: <http://www.wikidata.org/prop/direct/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <http://schema.org/> .
wd:Q12204 rdfs:label "tuberculosis"@en, "tuberculosis"@es, "Tuberkulose"@de ; skos:altLabel "tisis"@es ;
  schema:description "infectious disease"@en ; wdt:P486 "D014376" ; wdt:P2892 "C0041296" ; wdt:P494 "A15-A19" .
<https://it.wikipedia.org/wiki/Tubercolosi> schema:about wd:Q12204 ; schema:isPartOf <https://it.wikipedia.org/> ;
  schema:name "Tubercolosi"@it .
""")
    load_paths(store, [wd], link=False)
    [record] = records_from_rows(store.query(records_query(["Q12204"])).rows)
    assert record["lang_labels"] == {"en": "tuberculosis", "es": "tuberculosis"}  # German filtered out
    assert record["aliases"] == {"es": ["tisis"]} and record["wikipedia"] == {"it": "Tubercolosi"}
    assert sorted(record["xrefs"]) == ["ICD10", "MeSH", "UMLS"]
    xrefs = {q.object.value for q in record_quads(record, ns.graph_iri("wikidata", "t")) if q.predicate == ns.HAS_DB_XREF}
    assert xrefs == {"MESH:D014376", "UMLS:C0041296", "ICD10:A15-A19"}


def test_a_name_links_to_its_labelled_concept_not_to_those_using_it_as_alias(store, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text(
        '{"qid": "Q1", "lang_labels": {"en": "malaria"}}\n'
        '{"qid": "Q2", "lang_labels": {"en": "blackwater fever"}, "aliases": {"en": ["malaria", "infections"]}}\n'
        '{"qid": "Q3", "lang_labels": {"en": "heterophyiasis"}, "aliases": {"en": ["infections"]}}\n'
        '{"qid": "Q4", "lang_labels": {"en": "giardiasis"}, "aliases": {"en": ["beaver fever"]}}\n')
    article = tmp_path / "article.jsonl"
    article.write_text('{"lang": "en", "title": "T", "text": "Malaria infections differ from beaver fever."}\n')
    load_paths(store, [items, article])
    mentioned = {q.object.value.rsplit("/", 1)[-1] for q in
                 store.ox.quads_for_pattern(None, ns.SCHEMA_MENTIONS, None, None)}
    assert mentioned == {"Q1", "Q4"}  # an alias used by one concept still counts
