"""Supervised fine-tuning on verified traces: prompt tokens carry no loss, a few steps lower the loss, the run
resumes, and the saved adapter reloads offline and writes a trace that the verifier judges."""
from __future__ import annotations

import json

import pytest

from medkg.rag.trace_export import append_rows, trace_row
from medkg.rag.traces import TraceRecord, answer_evidence, generate_traces, parse_trace, verify
from medkg.rag.generators import GenerationConfig, TransformersGenerator
from medkg.train.sft import SFTConfig, encode_example, load_records, pack, sft_messages, train_sft
from test_traces import _good_trace, evidence, retriever, tb_question  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def verified(tb_question, evidence):  # noqa: F811
    trace = parse_trace(_good_trace(evidence), "hand-written")
    record = TraceRecord(tb_question, evidence, trace, verify(trace, tb_question, evidence))
    assert record.verification.passed
    return record


@pytest.fixture(scope="module")
def trace_file(verified, tmp_path_factory):
    path = tmp_path_factory.mktemp("sft") / "traces.jsonl"
    rejected = TraceRecord(verified.item, verified.evidence, parse_trace("1. no", "m"),
                           verify(parse_trace("1. no", "m"), verified.item, verified.evidence))
    append_rows([trace_row(verified, retrieval_mode="lexical"), trace_row(rejected, retrieval_mode="lexical")],
                path)
    return path


def test_only_the_assistant_turn_carries_loss(verified, small_generator):
    tokenizer = small_generator.tokenizer
    example = encode_example(tokenizer, sft_messages(verified))
    labelled = [t for t, label in zip(example["input_ids"], example["labels"]) if label != -100]
    first = example["labels"].index(next(label for label in example["labels"] if label != -100))
    assert all(label == -100 for label in example["labels"][:first])          # the prompt: no loss
    assert example["labels"][first:] == example["input_ids"][first:]          # the answer: every token
    text = tokenizer.decode(labelled)
    assert text.startswith("1. The question describes") and "Answer: C" in text
    assert "Question:" not in text and "[P1] (Tuberculosis)" not in text     # evidence stayed in the prompt
    prompt = tokenizer.decode(example["input_ids"][:first])
    assert "[P1] (Tuberculosis)" in prompt and "C. IFN-gamma" in prompt


def test_packing_keeps_whole_examples(verified, small_generator):
    example = encode_example(small_generator.tokenizer, sft_messages(verified))
    n = len(example["input_ids"])
    rows = pack([example] * 5, max_length=2 * n)
    assert [len(r["input_ids"]) for r in rows] == [2 * n, 2 * n, n]
    assert rows[0]["labels"] == example["labels"] * 2


def test_only_verified_traces_train_unless_asked(trace_file, tmp_path):
    train, held, fingerprint = load_records(SFTConfig([trace_file], tmp_path, eval_fraction=0))
    assert len(train) == 1 and held == [] and fingerprint["questions"] == 1
    assert len(fingerprint["files"][str(trace_file)]) == 64
    train, _, _ = load_records(SFTConfig([trace_file], tmp_path, eval_fraction=0, include_unverified=True))
    assert len(train) == 2


def test_steps_lower_the_loss_resume_and_the_adapter_reloads_offline(trace_file, generator_cache, tmp_path,
                                                                      tb_question, retriever):  # noqa: F811
    import shutil

    home = tmp_path / "home"
    shutil.copytree(generator_cache, home / "models")  # the converted base, as `make demo` leaves it
    out = tmp_path / "sft"
    logs: list[str] = []
    config = SFTConfig([trace_file], out, eval_fraction=0, max_steps=6, batch_size=1, learning_rate=1e-3,
                       logging_steps=1, save_steps=3, home=home, device="cpu")
    first = train_sft(config, log=logs.append)
    losses = [loss for _, loss in first.losses]
    assert first.steps == 6 and losses[-1] < losses[0] * 0.7, losses
    record = json.loads((out / "medkg_sft.json").read_text())
    assert record["base"] == "smollm2-135m-instruct" and record["method"] == "lora" and record["steps"] == 6
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()

    more = train_sft(SFTConfig([trace_file], out, eval_fraction=0, max_steps=8, batch_size=1, learning_rate=1e-3,
                               logging_steps=1, save_steps=3, home=home, device="cpu"), log=logs.append)
    assert any(line.startswith("resuming from") for line in logs) and more.steps == 8

    tuned = TransformersGenerator.load(str(out), cache_dir=home / "models", device="cpu")
    produced = next(generate_traces([tb_question], lambda item: answer_evidence(retriever, item), tuned,
                                    config=GenerationConfig(max_new_tokens=120)))
    assert produced.trace.raw
    assert produced.verification.passed or produced.verification.reasons  # judged, with a reason if rejected
