"""Retrieval evaluation on extractive-QA files: reading SQuAD-layout files, gold paragraphs across languages,
the metrics, and real runs through the graph (text and graph modes on XQuAD; dense on a tiny corpus)."""
from __future__ import annotations

import gzip
import json

import pytest

from medkg.errors import MedkgError
from medkg.rag.evaluation import (QASet, evaluate_retrieval, gold_keys, language_from_name, load_qa_file,
                                  paragraph_rank, sample_questions, score_ranks, scores_table)
from conftest import shared

XQUAD = "extractive_qa/xquad/xquad.{}.json"


def _squad(tmp_path, name, articles):
    path = tmp_path / name
    path.write_text(json.dumps({"version": "1.1", "data": articles}), encoding="utf-8")
    return path


# -- metrics --------------------------------------------------------------------------------------------------

def test_paragraph_rank_counts_each_paragraph_once():
    # Passages of paragraph "0:1" at ranks 1 and 2 count once; passages outside the corpus (None) are skipped.
    ranking = ["0:1", "0:1", None, "2:0", "0:1", "1:3"]
    assert paragraph_rank(ranking, "0:1") == 1
    assert paragraph_rank(ranking, "2:0") == 2
    assert paragraph_rank(ranking, "1:3") == 3
    assert paragraph_rank(ranking, "9:9") is None
    assert paragraph_rank(ranking, "1:3", k_max=2) is None  # only the first k_max paragraphs count


def test_score_ranks_on_a_hand_made_ranking():
    scores = score_ranks([1, 2, 5, 6, 20, None, None, 3])
    assert scores["recall_at_1"] == pytest.approx(1 / 8)
    assert scores["recall_at_5"] == pytest.approx(4 / 8)
    assert scores["recall_at_20"] == pytest.approx(6 / 8)
    assert scores["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 6 + 1 / 20 + 1 / 3) / 8)
    assert score_ranks([])["mrr"] == 0.0


# -- QA files -------------------------------------------------------------------------------------------------

def test_xquad_files_are_parallel_by_key_and_id():
    en, es = load_qa_file(shared(XQUAD.format("en"))), load_qa_file(shared(XQUAD.format("es")))
    assert (en.lang, es.lang) == ("en", "es")
    assert len(en.paragraphs) == len(es.paragraphs) == 240 and len(en.questions) == len(es.questions) == 1190
    assert [k for k, _, _ in en.paragraphs] == [k for k, _, _ in es.paragraphs]
    assert en.paragraphs[0][:2] == ("0:0", "Super Bowl 50")
    assert en.questions[0][2] == "0:0" and en.questions[0][0] == es.questions[0][0]
    # es questions -> en paragraphs: every question has its gold paragraph, the one of its parallel question.
    gold = gold_keys(es, en)
    assert len(gold) == 1190 and all(gold[qid] == key for qid, _, key in es.questions)
    # The seeded sample picks the same question ids in parallel files, and is repeatable.
    picked = [q[0] for q in sample_questions(es, 20)]
    assert picked == [q[0] for q in sample_questions(en, 20)] == [q[0] for q in sample_questions(es, 20)]
    assert picked != [q[0] for q in sample_questions(es, 20, seed=1)] and len(set(picked)) == 20


def test_squad_it_gz_and_squad_es_languages_from_file_names():
    italian = load_qa_file(shared("extractive_qa/squad_it/SQuAD_it-test.json.gz"))
    spanish = load_qa_file(shared("extractive_qa/squad_es/dev-v1.1-es_small.json"))
    assert italian.lang == "it" and len(italian.paragraphs) == 2010 and len(italian.questions) == 7609
    assert spanish.lang == "es" and len(spanish.paragraphs) == 1996 and len(spanish.questions) == 6583
    # Different article order, but the SQuAD question ids they share give the gold paragraph across languages.
    gold = gold_keys(italian, spanish)
    assert 4000 < len(gold) < len(italian.questions)
    spanish_of = {qid: key for qid, _, key in spanish.questions}
    assert all(spanish_of[qid] == key for qid, key in gold.items())


def test_language_from_name(tmp_path):
    from pathlib import Path

    assert language_from_name(Path("xquad.de.json")) == "de"
    assert language_from_name(Path("SQuAD_it-test.json.gz")) == "it"
    assert language_from_name(Path("dev-v1.1-es_small.json")) == "es"
    assert language_from_name(Path("squad_es/dev.json")) == "es"  # from the folder
    assert language_from_name(Path("dev.json")) is None
    assert language_from_name(Path("en-es.json")) is None  # ambiguous


def test_invalid_files_raise_medkg_error_naming_the_file(tmp_path):
    broken = tmp_path / "broken.en.json"
    broken.write_text('{"data": [', encoding="utf-8")
    with pytest.raises(MedkgError, match="invalid JSON") as info:
        load_qa_file(broken)
    assert info.value.path == str(broken)
    not_squad = _squad(tmp_path, "list.en.json", [{"title": "x"}])
    with pytest.raises(MedkgError, match="paragraphs") as info:
        load_qa_file(not_squad)
    assert info.value.path == str(not_squad)
    bad_gzip = tmp_path / "squad.it.json.gz"
    bad_gzip.write_bytes(b"not gzip at all")
    with pytest.raises(MedkgError, match="cannot read") as info:
        load_qa_file(bad_gzip)
    assert info.value.path == str(bad_gzip)
    with pytest.raises(MedkgError, match="language"):
        load_qa_file(_squad(tmp_path, "dev.json", []))
    with pytest.raises(MedkgError, match="no paragraphs"):
        load_qa_file(_squad(tmp_path, "empty.en.json", []))
    with pytest.raises(MedkgError, match="no such file"):
        load_qa_file(tmp_path / "missing.en.json")
    with pytest.raises(MedkgError, match="unknown retrieval mode"):
        evaluate_retrieval([tmp_path / "missing.en.json"], modes=("bm25",))
    with pytest.raises(MedkgError, match="limit"):
        evaluate_retrieval([tmp_path / "missing.en.json"], limit=0)


def test_gzip_and_explicit_language(tmp_path):
    article = {"title": "Cholera", "paragraphs": [{"context": "Cholera is an infection of the small intestine.",
                                                   "qas": [{"id": "q1", "question": "What does cholera infect?"},
                                                           {"id": "q2", "question": "Unanswerable?",
                                                            "is_impossible": True}]}]}
    path = tmp_path / "dev.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump({"data": [article]}, handle)
    qa = load_qa_file(path, lang="en")
    assert qa.lang == "en" and qa.paragraphs == [("0:0", "Cholera", article["paragraphs"][0]["context"])]
    assert qa.questions == [("q1", "What does cholera infect?", "0:0")]  # SQuAD 2.0 unanswerables skipped


def test_gold_keys_without_shared_ids_need_the_same_layout():
    corpus = QASet("en", [("0:0", "A", "a"), ("0:1", "A", "b")], [("e1", "?", "0:0"), ("e2", "?", "0:1")])
    parallel = QASet("it", [("0:0", "A", "a"), ("0:1", "A", "b")], [("i1", "?", "0:1")])
    assert gold_keys(parallel, corpus) == {"i1": "0:1"}
    other = QASet("it", [("0:0", "A", "a")], [("i1", "?", "0:0")])
    with pytest.raises(MedkgError, match="not parallel"):
        gold_keys(other, corpus)


# -- real runs through the graph ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("eval")


def _check(scores):
    for s in scores:
        assert 0.0 <= s.recall_at_1 <= s.recall_at_5 <= s.recall_at_20 <= 1.0
        assert s.recall_at_1 <= s.mrr <= s.recall_at_20


def test_xquad_english_monolingual_text_and_graph(workdir):
    scores = evaluate_retrieval([shared(XQUAD.format("en"))], modes=("text", "graph"), limit=20, workdir=workdir)
    assert [(s.question_lang, s.corpus_lang, s.mode, s.n) for s in scores] == [
        ("en", "en", "text", 20), ("en", "en", "graph", 20)]
    _check(scores)
    text, graph = scores
    # BM25 over 240 paragraphs finds the paragraph a question was written about almost always.
    assert text.recall_at_5 >= 0.8 and text.recall_at_1 >= 0.6
    # XQuAD is general Wikipedia: the medical graph names few of its concepts.
    assert graph.recall_at_20 < text.recall_at_20
    rows = scores_table(scores)
    assert rows[0]["direction"] == "en->en" and rows[0]["questions"] == "xquad.en.json"


def test_xquad_cross_lingual_text_reuses_the_workspace(workdir):
    scores = evaluate_retrieval([shared(XQUAD.format("es"))], corpus_file=shared(XQUAD.format("en")),
                                modes=("text",), limit=20, workdir=workdir)
    _check(scores)
    (text,) = scores
    assert (text.question_lang, text.corpus_lang, text.n) == ("es", "en", 20)
    # Names, numbers and cognates carry some Spanish questions to their English paragraph.
    assert text.recall_at_20 > 0.3
    assert len([p for p in workdir.iterdir() if p.is_dir()]) == 1  # one corpus, one workspace


def test_dense_and_hybrid_cross_lingual_on_a_small_corpus(tmp_path):
    """Spanish questions, English paragraphs: the multilingual embeddings bridge the languages."""
    topics = {
        "Cholera": ("Cholera is an infection of the small intestine by Vibrio cholerae, spread by contaminated "
                    "water; it causes profuse watery diarrhoea.", "¿Qué bacteria causa el cólera?"),
        "Malaria": ("Malaria is a mosquito-borne infectious disease caused by Plasmodium parasites and transmitted "
                    "by the bites of infected female Anopheles mosquitoes.", "¿Qué mosquito transmite la malaria?"),
        "Tuberculosis": ("Tuberculosis is an infectious disease usually caused by Mycobacterium tuberculosis "
                         "bacteria; it generally affects the lungs.", "¿Qué órgano afecta la tuberculosis?"),
        "Violin": ("The violin is a wooden string instrument played with a bow; it is the smallest and "
                   "highest-pitched instrument of the family.", "¿Con qué se toca el violín?"),
        "Volcano": ("A volcano is a rupture in the crust of a planet through which lava, volcanic ash and gases "
                    "escape from a magma chamber below the surface.", "¿Qué sale de un volcán?"),
    }
    english = QASet("en", [(f"{i}:0", t, p) for i, (t, (p, _)) in enumerate(topics.items())],
                    [(f"q{i}", "?", f"{i}:0") for i in range(len(topics))])
    spanish = QASet("es", english.paragraphs, [(f"q{i}", q, f"{i}:0") for i, (_, q) in enumerate(topics.values())])
    scores = evaluate_retrieval([spanish], corpus_file=english, modes=("dense", "hybrid"), limit=None,
                                workdir=tmp_path)
    _check(scores)
    dense, hybrid = scores
    assert (dense.mode, dense.n, hybrid.mode) == ("dense", 5, "hybrid")
    assert dense.recall_at_1 >= 0.8 and hybrid.recall_at_5 == 1.0


@pytest.mark.slow
def test_xquad_all_modes_cross_lingual(workdir):
    """Dense over XQuAD's 240 English paragraphs (about 300 passages): minutes on a CPU."""
    scores = evaluate_retrieval([shared(XQUAD.format("es"))], corpus_file=shared(XQUAD.format("en")), limit=20,
                                workdir=workdir)
    _check(scores)
    by_mode = {s.mode: s for s in scores}
    assert set(by_mode) == {"text", "dense", "hybrid", "graph"}
    assert by_mode["dense"].recall_at_5 > by_mode["text"].recall_at_5
    assert by_mode["hybrid"].recall_at_20 >= 0.8
