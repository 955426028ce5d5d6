"""Retrieval over relations on the demo graph (which ships CC0 relation samples): facts with relations in
three languages and one fact per statement, bounded paths, the cross-lingual bridge, retrieval-only MCQ
answering, and the explorer's relations section."""
from __future__ import annotations

import shutil
import urllib.request

import networkx as nx
import pytest

from conftest import DATA, REPO
from medkg.kg import namespaces as ns
from medkg.kg.loading import load_paths
from medkg.kg.relations import relation
from medkg.rag.graph_retrieval import GraphRetriever, fact_kind
from medkg.rag.mcq import read_mcq
from medkg.rag.mcq_retrieval import OptionScorer, Weights
from medkg.rag.paths import MAX_HOPS, QuestionReach
from medkg.rag.retrieve import Retriever

CHOLERA_WD, MEASLES_WD, TB_WD = (ns.WD + q for q in ("Q12090", "Q79793", "Q12204"))
VIBRIO = ns.OBO + "NCBITaxon_666"
ISONIAZID = ns.WD + "Q423169"


@pytest.fixture(scope="module")
def graph(demo_store) -> GraphRetriever:
    return GraphRetriever(demo_store)


@pytest.fixture(scope="module")
def retriever(demo_home) -> Retriever:
    from medkg.config import Settings
    from medkg.kg.store import OxigraphStore
    from medkg.rag.retrieve import open_text_index

    settings = Settings(home=demo_home)
    store = OxigraphStore(settings.store_path, query_timeout=60)
    yield Retriever(store, open_text_index(settings), None, demo_home / "cache")
    store.close()


def test_relation_facts_read_in_the_question_s_language_from_both_ends(graph):
    cholera = ns.OBO + "DOID_1498"
    for lang, expected in (("en", "has material basis in"), ("it", "ha base materiale in"),
                           ("es", "tiene base material en")):
        facts = graph.facts(cholera, lang, limit=40)
        relations = [f for f in facts if fact_kind(f.predicate) == "relation"]
        assert any(f.object == VIBRIO and f" — {expected} — " in f.text for f in relations), lang
    # an edge seen from its object reads with the inverse label: isoniazid treats tuberculosis
    facts = graph.facts(TB_WD, "es", limit=60)
    treated = [f for f in facts if f.subject == ISONIAZID]
    assert treated and treated[0].predicate == relation("treats").iri and " — se trata con — " in treated[0].text
    assert all(f.sources for f in facts)


def test_the_same_statement_from_two_sources_is_one_fact_naming_both(store, tmp_path):
    copy = tmp_path / "wikidata_copy.jsonl"
    shutil.copy(DATA / "mini_wikidata.jsonl", copy)
    load_paths(store, [DATA / "mini_wikidata.jsonl", copy])
    facts = GraphRetriever(store).facts(TB_WD, "en", limit=50)
    keys = [(f.subject, f.predicate, f.object) for f in facts]
    assert len(keys) == len(set(keys))
    label = next(f for f in facts if f.predicate == ns.RDFS_LABEL.value)
    assert len(label.sources) == 2


def test_paths_are_bounded_chains_of_real_edges(graph):
    concept_graph = graph.concept_graph
    reach = QuestionReach(concept_graph, [CHOLERA_WD])
    [path] = reach.paths_to([VIBRIO])[:1]
    assert path.start == CHOLERA_WD and path.end == VIBRIO and 1 <= path.hops <= MAX_HOPS
    for (a, b), edge in zip(zip(path.nodes, path.nodes[1:]), path.edges):
        assert {edge.subject, edge.object} == {a, b} and edge.sources
    assert path.hops == nx.shortest_path_length(concept_graph.graph, CHOLERA_WD, VIBRIO)
    # nothing is found beyond the bound, although networkx can walk there
    far = next(n for n, d in nx.single_source_shortest_path_length(concept_graph.graph, CHOLERA_WD, cutoff=6).items()
               if d == MAX_HOPS + 2)
    assert reach.paths_to([far]) == []


def test_paths_render_in_each_language(graph):
    reach = graph.reach([MEASLES_WD])
    fever = ns.OBO + "HP_0001945"
    [path] = reach.paths_to([fever])[:1]
    [italian] = graph.path_evidence([path], "it")
    assert italian.nodes[0] == MEASLES_WD and italian.nodes[-1] == fever
    assert "Febbre" in italian.facts[-1].text and all(f.sources for f in italian.facts)


@pytest.mark.parametrize("question, lang", [("¿Qué fármaco se usa para tratar la tuberculosis?", "es"),
                                            ("Quali sono i sintomi del morbillo?", "it")])
def test_spanish_and_italian_questions_reach_english_passages_and_relation_facts(retriever, question, lang):
    evidence = retriever.retrieve(question, mode="lexical", k=3)
    assert evidence.lang == lang
    assert evidence.passages and all(p.passage.lang == "en" for p in evidence.passages)
    assert any(fact_kind(f.fact.predicate) == "relation" for f in evidence.facts)


def test_retrieval_answers_the_demo_questions_in_three_languages_through_paths(retriever):
    items = read_mcq(REPO / "examples" / "mcq" / "relations_demo.jsonl")
    assert {i.lang for i in items} == {"en", "it", "es"}
    scorer = OptionScorer(retriever, k=3, weights=Weights(text=0, dense=0, paths=1))
    for item in items:
        prediction = scorer.predict(item)
        assert prediction.correct, (item.id, prediction.scores)
        assert prediction.paths[item.answer] and prediction.paths[item.answer][0][-1]


def test_no_spanish_or_italian_question_scores_nothing_for_lack_of_passages(retriever):
    """The demo index holds English passages only; es/it items still get passage scores through the
    graph's labels (the bridge), not a silent zero."""
    items = [i for i in read_mcq(REPO / "examples" / "mcq" / "relations_demo.jsonl") if i.lang != "en"]
    scorer = OptionScorer(retriever, k=3, weights=Weights(text=1, dense=0, paths=0))
    for item in items:
        supports = scorer.supports(item)
        assert any(s.text > 0 for s in supports.values()), item.id


def test_concept_graph_and_automata_are_cached_by_graph_fingerprint(demo_store, tmp_path):
    first = GraphRetriever(demo_store, tmp_path)
    first.concept_graph, first._automata
    cached = sorted(p.name for p in tmp_path.iterdir())
    assert len(cached) == 2 and all(first.fingerprint in name for name in cached)
    again = GraphRetriever(demo_store, tmp_path)
    assert again.concept_graph.graph.number_of_edges() == first.concept_graph.graph.number_of_edges()


def test_the_concept_page_shows_relations_both_ways_with_their_sources(explorer_server):
    url = explorer_server.base_url + "concept?iri=" + urllib.request.quote(TB_WD, safe="")
    page = urllib.request.urlopen(url, timeout=30).read().decode()
    assert 'id="relations"' in page and "is treated by" in page and "isoniazid" in page.lower()
    assert "Wikidata medicine relations" in page  # the source's title from the catalog
    cholera = explorer_server.base_url + "concept?iri=DOID:1498"
    page = urllib.request.urlopen(cholera, timeout=30).read().decode()
    assert "has material basis in" in page and "Vibrio cholerae" in page
