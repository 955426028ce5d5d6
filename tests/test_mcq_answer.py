"""MCQ answering with a generator: prompts, letter scoring with the real offline model, demonstrations, and
`medkg eval mcq --mode zero-shot|rag|few-shot` on the shipped MedQA sample."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.errors import MedkgError
from medkg.rag.mcq import read_mcq
from medkg.rag.mcq_answer import _letter, answer_items, answer_prompt, pick_demos
from medkg.rag.records import Evidence
from medkg.rag.traces import TraceRecord, Verification, parse_trace

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "mcq" / "medqa_sample.jsonl"


@pytest.fixture(scope="module")
def items():
    return read_mcq(SAMPLE)


def _record(item, passed=True, lang=None):
    trace = parse_trace("1. Th1 cells make interferon gamma [P1].\n2. It activates macrophages [T1].\n"
                        f"Answer: {item.answer}", "hand-written")
    if lang:
        from dataclasses import replace
        item = replace(item, lang=lang)
    return TraceRecord(item, Evidence(item.question, item.lang, "lexical"), trace, Verification(passed))


def test_few_shot_prompt_shows_demos_without_dangling_citations(items):
    messages = answer_prompt(items[1], demos=[_record(items[0])])
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert "[P1]" not in messages[2].content and messages[2].content.endswith("Answer: C")
    assert "interferon gamma." in messages[2].content
    assert messages[-1].content.startswith("Question: A 3-month-old boy")


def test_demos_are_verified_same_language_and_fixed(items):
    records = [_record(i) for i in items[:3]] + [_record(items[3], passed=False)] + \
              [_record(i, lang="it") for i in items[4:6]]
    chosen = pick_demos(records, 2, lang="en", seed=1)
    assert chosen == pick_demos(records, 2, lang="en", seed=1)
    assert all(r.verification.passed and r.item.lang == "en" for r in chosen)
    assert {r.item.lang for r in pick_demos(records, 2, lang="it")} == {"it"}
    with pytest.raises(MedkgError, match="few-shot needs 6 verified traces; the trace file has 5"):
        pick_demos(records, 6)


def test_letters_from_server_replies():
    labels = ["A", "B", "C", "D"]
    assert _letter("Answer: C", labels) == "C" and _letter("The answer is (B).", labels) == "B"
    assert _letter("D. Histamine", labels) == "D" and _letter("I cannot tell", labels) is None
    assert _letter("Answer: E", labels) is None  # not an option of this question


def test_zero_shot_scores_every_letter_deterministically(items, small_generator):
    first = answer_items(items[:3], small_generator, mode="zero-shot")
    again = answer_items(items[:3], small_generator, mode="zero-shot")
    assert first == again
    for item, prediction in zip(items, first):
        assert set(prediction.scores) == {"A", "B", "C", "D"} and all(v < 0 for v in prediction.scores.values())
        assert prediction.predicted == max(prediction.scores, key=prediction.scores.get)
        assert prediction.correct == (prediction.predicted == item.answer)


def test_modes_refuse_what_they_lack(items, small_generator):
    with pytest.raises(MedkgError, match="rag mode needs a retriever"):
        answer_items(items[:1], small_generator, mode="rag")
    with pytest.raises(MedkgError, match="few-shot mode needs verified traces"):
        answer_items(items[:1], small_generator, mode="few-shot")


def test_eval_mcq_rag_prints_beside_zero_shot(demo_home, generator_cache):
    from medkg.cli import app

    result = CliRunner().invoke(app, ["--home", str(demo_home), "eval", "mcq", str(SAMPLE), "--mode", "rag",
                                      "--generator", str(generator_cache / "smollm2-135m-instruct"),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mode"] == "rag" and report["questions"] == 6
    assert 0 <= report["accuracy"] <= 1 and 0 <= report["baseline"]["accuracy"] <= 1
    assert [r["mode"] for r in report["results"]] == ["zero-shot", "rag"]
    assert report["usage"]["requests"] == 12


def test_eval_mcq_few_shot_uses_a_trace_file(demo_home, generator_cache, items, tmp_path):
    from medkg.cli import app
    from medkg.rag.trace_export import append_rows, trace_row

    traces = tmp_path / "traces.jsonl"
    append_rows([trace_row(_record(i), retrieval_mode="lexical") for i in items[:4]], traces)
    predictions = tmp_path / "predictions.jsonl"
    result = CliRunner().invoke(app, ["--home", str(demo_home), "eval", "mcq", str(SAMPLE), "--mode", "few-shot",
                                      "--traces", str(traces), "--shots", "2", "--no-baseline", "--predictions",
                                      str(predictions), "--generator",
                                      str(generator_cache / "smollm2-135m-instruct"), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mode"] == "few-shot" and "baseline" not in report
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(rows) == 6 and {r["mode"] for r in rows} == {"few-shot"}
    assert sum(r["correct"] for r in rows) == round(report["accuracy"] * 6)
