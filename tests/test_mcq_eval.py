"""MCQ evaluation: Wilson intervals, the retrieval-only baseline on the demo articles, accuracy rows, the CLI."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import shared
from medkg.rag.corpus import graph_passages
from medkg.rag.mcq import MCQItem, part_items
from medkg.rag.mcq_eval import accuracy_rows, letter_counts, wilson_interval
from medkg.rag.mcq_retrieval import Weights, answer_by_retrieval
from medkg.rag.retrieve import Retriever
from medkg.rag.tantivy_index import TantivyIndex
from medkg.rag.text_index import sync


@pytest.fixture(scope="module")
def text_index(demo_store, tmp_path_factory):
    index = TantivyIndex(tmp_path_factory.mktemp("tantivy"))
    sync(index, list(graph_passages(demo_store)))
    return index


def _item(i, question, options, answer, subject=None, lang="en"):
    labels = "ABCDE"
    return MCQItem(f"q{i}", lang, question, tuple(zip(labels, options)), answer, "toy", subject)


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 0.0)


def test_retrieval_picks_the_option_the_articles_support(text_index, demo_store):
    items = [
        _item(1, "Which vector transmits malaria?", ["Anopheles mosquitoes", "ticks", "contaminated water",
                                                    "sexual contact"], "A", "infection"),
        _item(2, "What causes cholera?", ["Vibrio cholerae", "Plasmodium falciparum", "measles virus",
                                         "Mycobacterium leprae"], "A", "infection"),
        _item(3, "What bacterium causes leprosy?", ["Mycobacterium leprae", "Vibrio cholerae", "Salmonella Typhi",
                                                   "rubella virus"], "A", "bacteria"),
    ]
    retriever = Retriever(demo_store, text_index)
    text_only = answer_by_retrieval(items, retriever, k=3, weights=Weights(text=1, dense=0, paths=0))
    assert [p.predicted for p in text_only] == ["A", "A", "A"]
    predictions = answer_by_retrieval(items, retriever, k=3)  # passages and graph paths
    assert [p.predicted for p in predictions] == ["A", "A", "A"]
    assert all(p.evidence["A"] and p.scores["A"] > max(v for k, v in p.scores.items() if k != "A")
               for p in predictions)
    rows = accuracy_rows(items, predictions)
    overall = next(r for r in rows if r.subject == "all")
    assert (overall.questions, overall.correct, overall.chance) == (3, 3, 0.25)
    assert {r.subject for r in rows} == {"all", "infection", "bacteria"}


def test_nothing_retrieved_is_no_answer_not_a_guess(text_index, demo_store):
    item = _item(1, "zzqx", ["qqzz", "xxqq"], "A")
    (prediction,) = answer_by_retrieval([item], Retriever(demo_store, text_index))
    assert prediction.predicted is None and not prediction.correct


def test_eval_mcq_command_on_medqa(tmp_path, demo_store):
    from medkg.cli import app

    medqa = shared("mcqa/medqa_usmle/test_4options_phrases_no_exclude.jsonl")
    home = tmp_path / "home"
    (home / "index").mkdir(parents=True)
    # The CLI opens <home>/index/tantivy: build the demo articles' index there.
    index = TantivyIndex(home / "index" / "tantivy")
    sync(index, list(graph_passages(demo_store)))
    result = CliRunner().invoke(app, ["--home", str(home), "eval", "mcq", str(medqa), "--sample", "20",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["questions"] == 20 and 0 <= report["accuracy"] <= 1
    (row,) = report["results"]
    assert row["chance"] == 0.25 and row["ci_low"] <= row["accuracy"] <= row["ci_high"]


def test_parts_split_by_id_never_overlap_and_do_not_depend_on_order():
    items = [MCQItem(f"q{i}", "en", "?", (("A", "a"), ("B", "b")), "A", "d") for i in range(200)]
    first, second = part_items(items, "1/2"), part_items(items, "2/2")
    assert not {i.id for i in first} & {i.id for i in second} and len(first) + len(second) == 200
    assert 70 < len(first) < 130
    assert [i.id for i in part_items(list(reversed(items)), "1/2")] == [i.id for i in reversed(first)]
    assert [i.id for i in part_items(items[:50], "1/2")] == [i.id for i in first if int(i.id[1:]) < 50]


def test_letter_counts_show_position_bias_in_letter_order():
    assert letter_counts(["C", "A", "C", None, "B"]) == {"A": 1, "B": 1, "C": 2, "none": 1}
    assert list(letter_counts(["D", "A"])) == ["A", "D"]
