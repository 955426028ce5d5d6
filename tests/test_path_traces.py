"""Traces along graph paths: the offline path writer's traces verify in English, Italian and Spanish on the demo
graph; the path rules reject a broken chain, a wrong final concept and a step without a citation, each with its
reason; a question with no path gets no trace; the CLI writes them offline and `datasets` loads the file."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.rag.mcq import MCQItem, read_mcq
from medkg.rag.path_traces import PATH_WRITER, PathWriter, path_evidence
from medkg.rag.trace_export import read_records, trace_row
from medkg.rag.traces import (EXCEPTION_ASKED, NO_PATH, TraceStep, asks_for_exception, generate_traces,
                               parse_trace, verify)
from test_traces import retriever  # noqa: F401  (the demo graph and its text index, as a fixture)

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "examples" / "mcq" / "relations_demo.jsonl"


@pytest.fixture(scope="module")
def records(retriever):
    items = read_mcq(QUESTIONS)
    assert [i.lang for i in items] == ["en", "it", "es"]
    return list(generate_traces(items, lambda i: path_evidence(retriever, i), PathWriter(), paths_only=True))


def _steps(record):
    return list(record.trace.steps)


def test_the_path_writer_s_traces_verify_in_each_language(records):
    words = {"en": "The question mentions", "it": "La domanda menziona", "es": "La pregunta menciona"}
    relation = {"en": "has material basis in", "it": "ha come sintomo", "es": "se trata con"}
    for record in records:
        lang = record.item.lang
        assert record.verification.passed, (lang, record.verification.reasons, record.trace.raw)
        assert record.trace.generator == PATH_WRITER and record.trace.answer == record.item.answer
        assert record.trace.steps[0].text.startswith(words[lang])
        assert relation[lang] in record.trace.raw  # the graph's relation label in the question's language
        path = record.evidence.paths[0]
        assert path.option == record.item.answer and path.fact_ids[0] in record.trace.steps[0].citations
        assert all(s.citations for s in record.trace.steps)
        assert any(c.startswith("P") for c in record.trace.citations)  # a passage's own sentence is quoted


def test_each_hop_is_a_fact_of_the_graph_between_the_path_s_concepts(records, demo_store):
    for record in records:
        path = record.evidence.paths[0]
        for (a, b), fact in zip(zip(path.nodes, path.nodes[1:]), path.facts):
            assert {fact.subject, fact.object} == {a, b}
            assert demo_store.query(f"ASK {{ GRAPH ?g {{ <{fact.subject}> <{fact.predicate}> <{fact.object}> }} }}"
                                    ).boolean


def _rewrite(record, number: int, text: str):
    steps = [TraceStep(s.number, text if s.number == number else s.text,
                       tuple(re.findall(r"[PT]\d+", text)) if s.number == number else s.citations)
             for s in record.trace.steps]
    raw = "\n".join(f"{s.number}. {s.text}" for s in steps) + f"\nAnswer: {record.item.answer}"
    return parse_trace(raw, record.trace.generator)


def test_a_broken_chain_is_rejected_with_its_reason(records):
    record = records[0]  # cholera -> Vibrio cholerae
    first = record.trace.steps[0]
    broken = _rewrite(record, 1, "Measles spreads by respiratory droplets and causes fever [" + first.citations[0] + "].")
    reasons = verify(broken, record.item, record.evidence).reasons
    assert any(r.startswith("the chain breaks") for r in reasons), reasons


def test_a_wrong_final_concept_is_rejected_with_its_reason(records):
    record = records[1]  # morbillo -> febbre
    last = record.trace.steps[-1]
    wrong = _rewrite(record, last.number, "Quindi il morbillo è la risposta, un'infezione virale [" +
                     ", ".join(last.citations) + "].")
    reasons = verify(wrong, record.item, record.evidence).reasons
    assert any("does not reach the gold option's concept" in r and "Febbre" in r for r in reasons), reasons


def test_a_step_without_a_citation_is_rejected_with_its_reason(records):
    record = records[2]
    uncited = _rewrite(record, 1, re.sub(r"\s*\[[^\]]*\]", "", record.trace.steps[0].text))
    reasons = verify(uncited, record.item, record.evidence).reasons
    assert "steps that cite nothing: 1" in reasons, reasons


def test_a_question_with_no_path_gets_no_trace(retriever):
    item = MCQItem("no-path", "en", "Which of these is a prime number?", (("A", "Four"), ("B", "Seven")), "B",
                   "hand-written")
    record = next(generate_traces([item], lambda i: path_evidence(retriever, i), PathWriter(), paths_only=True))
    assert not record.trace.steps and record.verification.reasons == [NO_PATH]


def test_a_question_asking_for_the_false_option_gets_no_trace(retriever):
    """Its gold option is what the evidence does not support: a chain to it would argue the wrong way."""
    item = replace(read_mcq(QUESTIONS)[1], question="Quale di questi NON è un sintomo tipico del morbillo?")
    record = next(generate_traces([item], lambda i: path_evidence(retriever, i), PathWriter(), paths_only=True))
    assert not record.trace.steps and record.verification.reasons == [EXCEPTION_ASKED]
    assert asks_for_exception("All of the following are true about aspiration pneumonia except:")
    assert asks_for_exception("¿Cuál de las siguientes afirmaciones es falsa?")
    assert not asks_for_exception("He has no fever.\nWhich is the most likely diagnosis?")


def test_an_llm_is_shown_the_path_as_guidance(records):
    from medkg.rag.traces import trace_prompt

    record = records[0]
    prompt = trace_prompt(record.item, record.evidence)[-1].content
    assert "Graph path from the question to the answer: [T1]" in prompt


def test_the_cli_writes_verified_path_traces_offline_and_datasets_loads_them(demo_home, tmp_path):
    import datasets

    from medkg.cli import app

    out = tmp_path / "traces.jsonl"
    result = CliRunner().invoke(app, ["--home", str(demo_home), "traces", "generate", str(QUESTIONS),
                                      str(REPO / "examples" / "mcq" / "medqa_sample.jsonl"), "--out", str(out),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    demo = {g["language"]: g for g in summary["groups"] if g["dataset"] == "relations-demo"}
    assert {lang: (g["traced"], g["verified"]) for lang, g in demo.items()} == {l: (1, 1) for l in ("en", "it", "es")}
    untraced = summary["questions"] - summary["traces"]  # reported, not padded
    assert summary["without_path"] > 0 and summary["without_path"] + summary["asks_for_exception"] == untraced

    table = datasets.load_dataset("json", data_files=str(out), split="train")
    rows = [r for r in table if r["verified"]]
    assert {r["language"] for r in rows} == {"en", "it", "es"}
    for row in rows:
        path = row["paths"][0]
        assert all(n.startswith("http") for n in path["nodes"]) and len(path["hops"]) == len(path["nodes"]) - 1
        assert row["generator"] == PATH_WRITER
        passages = [c for c in row["citations"] if c["kind"] == "passage"]
        assert passages and all(c["iri"] and c["begin"] is not None and c["end"] for c in passages)

    checked = CliRunner().invoke(app, ["traces", "verify", str(out), "--format", "json"])
    assert checked.exit_code == 0, checked.output
    again = json.loads(checked.stdout)
    assert again["verified"] == summary["verified"] and again["without_path"] == summary["without_path"]
    reread = [r for r in read_records(out) if r.verification.passed]
    assert all(r.evidence.paths for r in reread)
    row = trace_row(reread[0], retrieval_mode="paths")
    assert row["paths"] == next(r for r in rows if r["id"] == row["id"])["paths"]


def test_the_path_writer_refuses_evidence_without_a_path(records):
    record = records[0]
    with pytest.raises(ValueError, match="no graph path"):
        PathWriter().write_trace(record.item, replace(record.evidence, paths=[]))


def test_sft_on_path_traces_lowers_held_out_loss_and_reloads_offline(records, retriever, generator_cache, tmp_path):
    import shutil

    from medkg.rag.generators import GenerationConfig, TransformersGenerator
    from medkg.rag.trace_export import append_rows
    from medkg.train.sft import SFTConfig, train_sft

    traces = tmp_path / "traces.jsonl"
    append_rows([trace_row(r, retrieval_mode="paths") for r in records], traces)
    home = tmp_path / "home"
    shutil.copytree(generator_cache, home / "models")  # the converted base, as `make demo` leaves it
    out = tmp_path / "sft"
    result = train_sft(SFTConfig([traces], out, eval_fraction=0.34, max_steps=6, batch_size=1, learning_rate=1e-3,
                                 logging_steps=1, save_steps=6, home=home, device="cpu"), log=lambda _: None)
    assert result.train_examples == 2 and result.eval_examples == 1
    assert result.eval_loss_after < result.eval_loss_before, (result.eval_loss_before, result.eval_loss_after)
    record = json.loads((out / "medkg_sft.json").read_text())
    assert record["eval_loss_after"] == result.eval_loss_after

    tuned = TransformersGenerator.load(str(out), cache_dir=home / "models", device="cpu")
    produced = next(generate_traces([records[0].item], lambda i: path_evidence(retriever, i), tuned,
                                    config=GenerationConfig(max_new_tokens=48), paths_only=True))
    assert produced.trace.raw and produced.trace.prompt_version == "trace-v2+paths"
    assert produced.verification.passed or produced.verification.reasons  # judged, with a reason if rejected
