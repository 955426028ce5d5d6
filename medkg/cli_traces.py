"""`medkg traces generate|verify`: graph-cited reasoning traces for MCQ items, verified, exported as JSONL."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from medkg.cli import State, _CountProgress, app, err, out

traces_app = typer.Typer(no_args_is_help=True, help="Reasoning traces that cite passages [P#] and graph facts [T#].")
app.add_typer(traces_app, name="traces")

GENERATOR_HELP = "default (SmolLM2-135M-Instruct, offline), a Hugging Face id / folder / .gguf, or a server URL."


def _reason_kind(reason: str) -> str:
    """'final answer D is not the gold C' → 'final answer … is not the gold …' (count kinds, not instances)."""
    import re

    return re.sub(r"\b[A-J]\b|[PT]?\d+(, [PT]?\d+)*", "…", reason)


def _summary(rows: list[dict], usage: dict | None, fmt: str, title: str) -> None:
    passed = sum(r["verified"] for r in rows)
    reasons = Counter(_reason_kind(x) for r in rows for x in r["reasons"])
    summary = {"traces": len(rows), "verified": passed, "pass_rate": round(passed / len(rows), 4) if rows else 0.0,
               "reasons": dict(reasons.most_common()), "usage": usage}
    if fmt == "json":
        out.print_json(json.dumps(summary, ensure_ascii=False))
        return
    out.print(f"{title}: {passed}/{len(rows)} traces verified ({100 * summary['pass_rate']:.1f}%)")
    if reasons:
        table = Table("rejection reason", "traces", header_style="bold")
        for reason, count in reasons.most_common():
            table.add_row(reason, str(count))
        out.print(table)
    if usage:
        out.print(f"tokens: {usage['prompt_tokens']:,} prompt, {usage['completion_tokens']:,} generated "
                  f"in {usage['requests']} requests")


@traces_app.command("generate")
def traces_generate(
    ctx: typer.Context,
    dataset: list[str] = typer.Argument(..., help="MCQ files (MedQA/MedMCQA jsonl, HEAD-QA json, medkg jsonl) "
                                                  "or Hugging Face dataset ids."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Trace JSONL (default <workspace>/traces/traces.jsonl)."),
    generator: Optional[str] = typer.Option(None, help=GENERATOR_HELP),
    generator_model: Optional[str] = typer.Option(None, help="Model name on the server (when it serves several)."),
    split: Optional[str] = typer.Option(None, help="Split of a Hugging Face dataset."),
    limit: Optional[int] = typer.Option(None, help="First N questions per dataset."),
    sample: Optional[int] = typer.Option(None, help="A fixed random sample of N questions per dataset."),
    seed: int = typer.Option(13, help="Seed of --sample."),
    retrieval: str = typer.Option("lexical", help="Retrieval mode for the evidence (lexical = text + graph; "
                                                  "hybrid needs the dense index)."),
    k: int = typer.Option(3, "-k", help="Passages of evidence."),
    max_facts: int = typer.Option(6, help="Graph facts of evidence."),
    max_new_tokens: int = typer.Option(320, help="Longest trace, in tokens."),
    temperature: float = typer.Option(0.0, help="0 = greedy (deterministic)."),
    repetition_penalty: float = typer.Option(1.1, help="> 1 discourages repeated steps."),
    batch_size: int = typer.Option(4, help="Prompts per generation batch."),
    attempts: int = typer.Option(1, help="Generations per question until one passes the verifier (later ones "
                                         "sampled at temperature 0.7)."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Trace each question toward its gold answer from retrieved evidence; verify; append to the JSONL file.

    Resumable: questions already in the output file are skipped. Rejected traces are kept with their reasons.
    """
    from medkg.errors import MedkgError
    from medkg.rag.generators import GenerationConfig, open_generator
    from medkg.rag.mcq import load_mcq, sample_items
    from medkg.rag.retrieve import MODES, Retriever, cache_dir, open_dense_index, open_text_index
    from medkg.rag.trace_export import append_rows, done_ids, trace_row
    from medkg.rag.traces import answer_evidence, generate_traces

    if retrieval not in MODES:
        raise MedkgError(f"unknown retrieval mode {retrieval!r} (use {', '.join(MODES)})")
    state: State = ctx.obj
    out_file = out_file or state.settings.home / "traces" / "traces.jsonl"
    items = []
    for source in dataset:
        loaded = load_mcq(source, split=split, limit=limit)
        items.extend(sample_items(loaded, sample, seed) if sample else loaded)
    done = done_ids(out_file)
    todo = [i for i in items if i.id not in done]
    if len(todo) < len(items):
        err.print(f"{len(items) - len(todo)} questions already traced in {out_file}; skipped", highlight=False)
    retriever = Retriever(state.store(), open_text_index(state.settings),
                          open_dense_index(state.settings) if retrieval in ("dense", "hybrid") else None,
                          cache_dir(state.settings))
    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                              repetition_penalty=repetition_penalty)
    rows: list[dict] = []
    model = None
    if todo:
        model = open_generator(generator, server_model=generator_model, cache_dir=state.settings.home / "models",
                               batch_size=batch_size)
        with _CountProgress(disabled=state.quiet or fmt == "json") as progress:
            advance = progress("traces", len(todo))
            records = generate_traces(todo, lambda item: answer_evidence(retriever, item, mode=retrieval, k=k,
                                                                         max_facts=max_facts),
                                      model, config=config, batch_size=batch_size, attempts=attempts,
                                      progress=advance)
            for record in records:
                row = trace_row(record, retrieval_mode=retrieval)
                append_rows([row], out_file)
                rows.append(row)
    _summary(rows, model.usage.as_dict() if model else None, fmt, f"{out_file}")


@traces_app.command("verify")
def traces_verify(
    ctx: typer.Context,
    trace_file: Path = typer.Argument(..., help="Trace JSONL written by `medkg traces generate`."),
    verified_out: Optional[Path] = typer.Option(None, "--verified-out", help="Also write the passing rows here."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Re-run the verifier over a trace file (e.g. after editing traces or changing the rules) and report."""
    from medkg.rag.trace_export import read_records, trace_row
    from medkg.rag.traces import verify

    rows = []
    for record in read_records(trace_file):
        record.verification = verify(record.trace, record.item, record.evidence)
        rows.append(trace_row(record, retrieval_mode=record.evidence.mode))
    if verified_out:
        from medkg.rag.trace_export import append_rows

        verified_out.unlink(missing_ok=True)
        append_rows([r for r in rows if r["verified"]], verified_out)
    _summary(rows, None, fmt, str(trace_file))
