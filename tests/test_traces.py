"""Reasoning traces: parsing, the verifier's rules, export rows that `datasets` loads, and generation end to end
with the real offline generator over the demo graph."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.rag.corpus import graph_passages
from medkg.rag.mcq import read_mcq
from medkg.rag.retrieve import Retriever
from medkg.rag.tantivy_index import TantivyIndex
from medkg.rag.text_index import sync
from medkg.rag.trace_export import read_records, record_from_row, trace_row
from medkg.rag.traces import TraceRecord, answer_evidence, parse_trace, trace_prompt, verify

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "mcq" / "medqa_sample.jsonl"


@pytest.fixture(scope="module")
def tb_question():
    item = read_mcq(SAMPLE)[0]
    assert item.answer_text == "IFN-gamma"  # the shipped sample's first question: Th1 cells in tuberculosis
    return item


@pytest.fixture(scope="module")
def retriever(demo_store, tmp_path_factory):
    index = TantivyIndex(tmp_path_factory.mktemp("tantivy"))
    sync(index, list(graph_passages(demo_store)))
    return Retriever(demo_store, index)


@pytest.fixture(scope="module")
def evidence(retriever, tb_question):
    return answer_evidence(retriever, tb_question, mode="lexical", k=3, max_facts=6)


def _definition(evidence) -> str:
    """The id of the evidence's definition (or description) of tuberculosis: relations come first."""
    return next(f.id for f in evidence.facts if " — definition — " in f.fact.text
                or " — description — " in f.fact.text)


def _good_trace(evidence) -> str:
    fact = _definition(evidence)
    return ("1. The question describes the immune response to Mycobacterium tuberculosis, which causes "
            "tuberculosis [P1].\n"
            f"2. Tuberculosis is a bacterial infectious disease of the lungs [{fact}], controlled by macrophages "
            "that Th1 lymphocytes activate.\n"
            "3. Th1 cells secrete interferon gamma, which helps the macrophage fuse the phagosome with a lysosome "
            "into a phagolysosome that kills the bacterium [P3, " + fact + "]; interleukin 4 comes from Th2 cells.\n"
            "Answer: C")


def test_evidence_for_the_answer_has_passages_and_useful_facts(evidence):
    assert [p.id for p in evidence.passages] == ["P1", "P2", "P3"]
    assert any(p.passage.title == "Tuberculosis" for p in evidence.passages)
    assert evidence.facts and [f.id for f in evidence.facts] == [f"T{i}" for i in range(1, len(evidence.facts) + 1)]
    assert not any(" — label — " in f.fact.text or " — xref — " in f.fact.text for f in evidence.facts)


def test_prompt_gives_question_gold_answer_and_citable_evidence(tb_question, evidence):
    prompt = trace_prompt(tb_question, evidence)
    assert [m.role for m in prompt] == ["system", "user", "assistant", "user"]  # one worked example first
    asked = prompt[-1].content
    assert "Correct answer: C. IFN-gamma" in asked and "[P1] (" in asked and "[T1] " in asked


def test_parse_reads_steps_citation_groups_and_the_final_letter():
    trace = parse_trace("Some preamble\n1. First [P1].\nStep 2: Second, citing [P2, T3] and [t1].\n"
                        "3) Third without citation.\nThe answer is: B", "m")
    assert [s.number for s in trace.steps] == [1, 2, 3]
    assert trace.steps[1].citations == ("P2", "T3", "T1")
    assert trace.citations == ["P1", "P2", "T3", "T1"] and trace.answer == "B"
    assert parse_trace("Risposta: D", "m").answer == "D" and parse_trace("no letter here", "m").answer is None


def test_a_grounded_reasoned_trace_passes(tb_question, evidence):
    trace = parse_trace(_good_trace(evidence), "hand-written")
    verdict = verify(trace, tb_question, evidence)
    assert verdict.passed, verdict.reasons


@pytest.mark.parametrize("change, reason", [
    (lambda t: t.replace("[P1]", "[P9]", 1), "cites ids not in the evidence: P9"),
    (lambda t: t.replace("Answer: C", "Answer: A"), "final answer A is not the gold C"),
    (lambda t: t.replace("Answer: C", ""), "no final answer"),
    (lambda t: t.split("\n2.")[0] + "\nAnswer: C", "too few steps (1 < 2)"),
    (lambda t: "1. The answer is C. IFN-gamma [P1].\n2. The answer is C. IFN-gamma secreted [P1].\n"
               "3. The answer is C. IFN-gamma by Th1 cells [P1].\nAnswer: C", "restates the question and answer"),
    (lambda t: "\n".join(line.split(" [")[0] for line in t.splitlines()), "no step cites the evidence"),
    (lambda t: t.replace("2. Tuberculosis", "2. The question describes the immune response to Mycobacterium "
                         "tuberculosis, which causes tuberculosis [P1].\n9. Tuberculosis"), "repeats a step"),
    (lambda t: t + "\n" + "x" * 4000, "too long"),
    (lambda t: t.replace("Tuberculosis is a bacterial infectious disease of the lungs [T", "Macrophages engulf "
                         "bacteria [T"), "steps that share nothing with what they cite: 2"),
    (lambda t: "1. Bleeding gums, easy bruising and poor wound healing are the typical late signs of scurvy [P1].\n"
               + t.split("\n", 1)[1], "steps copied from the prompt's worked example: 1"),
])
def test_each_rule_rejects_with_its_reason(tb_question, evidence, change, reason):
    trace = parse_trace(change(_good_trace(evidence)), "hand-written")
    verdict = verify(trace, tb_question, evidence)
    assert not verdict.passed
    assert any(r.startswith(reason) for r in verdict.reasons), verdict.reasons


def test_rows_round_trip_resolve_citations_and_load_with_datasets(tb_question, evidence, tmp_path):
    trace = parse_trace(_good_trace(evidence), "hand-written")
    record = TraceRecord(tb_question, evidence, trace, verify(trace, tb_question, evidence))
    row = trace_row(record, retrieval_mode="lexical")
    cited = {c["id"]: c for c in row["citations"]}
    assert cited["P1"]["kind"] == "passage" and cited["P1"]["url"].startswith("https://en.wikipedia.org/wiki/")
    assert isinstance(cited["P1"]["begin"], int) and cited["P1"]["end"] > cited["P1"]["begin"]
    fact = _definition(evidence)
    assert cited[fact]["kind"] == "fact"
    assert cited[fact]["iri"] == next(f.fact.subject for f in evidence.facts if f.id == fact)
    back = record_from_row(json.loads(json.dumps(row)))
    assert back.item == tb_question and back.trace.steps == trace.steps and back.verification.passed
    assert [p.passage for p in back.evidence.passages] == [p.passage for p in evidence.passages]

    datasets = pytest.importorskip("datasets")
    path = tmp_path / "traces.jsonl"
    bad = TraceRecord(tb_question, evidence, parse_trace("1. no", "m"), verify(parse_trace("1. no", "m"),
                                                                               tb_question, evidence))
    path.write_text("".join(json.dumps(trace_row(r, retrieval_mode="lexical")) + "\n" for r in (record, bad)))
    table = datasets.load_dataset("json", data_files=str(path), split="train")
    assert table.num_rows == 2 and table["verified"] == [True, False]
    assert table[0]["options"][2] == {"label": "C", "text": "IFN-gamma"}


def test_generate_with_the_offline_generator_verifies_exports_and_resumes(demo_home, generator_cache, tmp_path):
    from medkg.cli import app

    out = tmp_path / "traces.jsonl"
    args = ["--home", str(demo_home), "traces", "generate", str(SAMPLE), "--limit", "2", "--out", str(out),
            "--generator", str(generator_cache / "smollm2-135m-instruct"), "--evidence", "retrieval",
            "--max-new-tokens", "96", "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["medqa-us-4:1", "medqa-us-4:2"]
    for row in rows:  # a 135M model rarely passes; whatever it wrote is kept, with reasons when it fails
        assert row["trace_text"] and row["verified"] == (not row["reasons"])
        assert row["evidence"]["passages"] and row["prompt_version"] == "trace-v2"
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["traces"] == 2 and summary["usage"]["completion_tokens"] > 0

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "2 questions already traced" in again.output
    assert len(out.read_text().splitlines()) == 2

    checked = CliRunner().invoke(app, ["traces", "verify", str(out), "--format", "json"])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["verified"] == sum(r["verified"] for r in rows)
    assert [r.item.id for r in read_records(out)] == ["medqa-us-4:1", "medqa-us-4:2"]


def test_a_broken_trace_file_is_named_with_its_line(tmp_path, capsys):
    from test_cli import run_main

    bad = tmp_path / "t.jsonl"
    bad.write_text('{"id": "x"}\n')
    code = run_main(tmp_path / "ws", "traces", "verify", str(bad))
    err = capsys.readouterr().err.replace("\n", "")
    assert code == 2 and f"{bad}:1: not a medkg trace row" in err and "Traceback" not in err
