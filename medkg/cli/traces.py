"""`medkg traces generate|verify`: graph-cited reasoning traces for MCQ items, verified, exported as JSONL."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from medkg.cli.common import CountProgress, State, err, out

traces_app = typer.Typer(name="traces", no_args_is_help=True,
                         help="Reasoning traces that cite passages [P#] and graph facts [T#].")

GENERATOR_HELP = ("Unset: the offline path writer (verbalises the graph path, no language model). smollm2 "
                  "(SmolLM2-135M-Instruct, offline), a Hugging Face id / folder / .gguf, or a server URL.")
EVIDENCE_MODES = ("paths", "retrieval")
SMOLLM2 = ("smollm2", "default")


def open_trace_writer(spec: str | None, *, server_model: str | None, cache_dir: Path, batch_size: int):
    """None -> the path writer; "smollm2" / "default" -> the shipped SmolLM2; anything else -> `open_generator`."""
    from medkg.rag.generators import open_generator
    from medkg.rag.path_traces import PathWriter

    if spec is None or spec == "path-writer":
        return PathWriter()
    return open_generator(None if spec in SMOLLM2 else spec, server_model=server_model, cache_dir=cache_dir,
                          batch_size=batch_size)


def _reason_kind(reason: str) -> str:
    """'final answer D is not the gold C' → 'final answer … is not the gold …'; 'cites ids not in the evidence:
    P4' → 'cites ids not in the evidence' (count kinds, not instances)."""
    import re

    return re.sub(r"\b[A-J]\b|[PT]?\d+(, [PT]?\d+)*", "…", reason.split(": ", 1)[0])


def _groups(rows: list[dict]) -> list[dict]:
    """Per dataset and language: questions, those with a graph path (traced), verified, and the rate over
    the traced ones."""
    from medkg.rag.traces import EXCEPTION_ASKED, untraced

    groups: dict[tuple[str, str], dict] = {}
    for r in rows:
        g = groups.setdefault((r["dataset"], r["language"]), {"dataset": r["dataset"], "language": r["language"],
                                                              "questions": 0, "asks_for_exception": 0, "traced": 0,
                                                              "verified": 0})
        g["questions"] += 1
        g["asks_for_exception"] += r["reasons"] == [EXCEPTION_ASKED]
        g["traced"] += not untraced(r["reasons"])
        g["verified"] += bool(r["verified"])
    for g in groups.values():
        g["verified_rate"] = round(g["verified"] / g["traced"], 4) if g["traced"] else None
    return sorted(groups.values(), key=lambda g: (g["dataset"], g["language"]))


def _summary(rows: list[dict], usage: dict | None, fmt: str, title: str) -> None:
    from medkg.rag.traces import EXCEPTION_ASKED, NO_PATH, UNTRACED, untraced

    passed = sum(r["verified"] for r in rows)
    traced = sum(not untraced(r["reasons"]) for r in rows)
    reasons = Counter(_reason_kind(x) for r in rows for x in r["reasons"] if x not in UNTRACED)
    summary = {"questions": len(rows), "without_path": sum(r["reasons"] == [NO_PATH] for r in rows),
               "asks_for_exception": sum(r["reasons"] == [EXCEPTION_ASKED] for r in rows),
               "traces": traced, "verified": passed,
               "pass_rate": round(passed / traced, 4) if traced else 0.0,
               "reasons": dict(reasons.most_common()), "groups": _groups(rows), "usage": usage}
    if fmt == "json":
        out.print_json(json.dumps(summary, ensure_ascii=False))
        return
    no_path = (f"; not traced: {summary['without_path']} without a graph path, {summary['asks_for_exception']} "
               "asking for the false or excepted option") if traced < len(rows) else ""
    out.print(f"{title}: {passed}/{traced} traces verified ({100 * summary['pass_rate']:.1f}%){no_path}",
              highlight=False)
    if len(summary["groups"]) > 1 or no_path:
        table = Table("dataset", "lang", "questions", "asks for the excepted", "traced (with a path)", "verified",
                      "% of traced", header_style="bold")
        for g in summary["groups"]:
            rate = f"{100 * g['verified_rate']:.1f}" if g["verified_rate"] is not None else "—"
            table.add_row(g["dataset"], g["language"], str(g["questions"]), str(g["asks_for_exception"]),
                          str(g["traced"]), str(g["verified"]), rate)
        out.print(table)
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
    part: Optional[str] = typer.Option(None, help="K/N: only part K of N of each dataset, split by question id "
                                                  "(trace on 1/2, evaluate on 2/2: the halves never overlap)."),
    seed: int = typer.Option(13, help="Seed of --sample."),
    evidence_mode: str = typer.Option("paths", "--evidence", help="paths: the graph paths from the question's "
                                      "concepts to the gold option's, their facts and the passages naming their "
                                      "concepts (questions with no path are not traced); retrieval: passages and "
                                      "facts retrieved for the question and answer (language models only)."),
    retrieval: str = typer.Option("lexical", help="Retrieval mode of --evidence retrieval (lexical = text + graph; "
                                                  "hybrid needs the dense index)."),
    k: int = typer.Option(3, "-k", help="Passages of evidence."),
    max_facts: int = typer.Option(8, help="Graph facts of evidence (with --evidence paths, the paths' facts first, "
                                          "then the definitions of the concepts at their ends)."),
    max_new_tokens: int = typer.Option(320, help="Longest trace, in tokens."),
    temperature: float = typer.Option(0.0, help="0 = greedy (deterministic)."),
    repetition_penalty: float = typer.Option(1.1, help="> 1 discourages repeated steps."),
    batch_size: int = typer.Option(4, help="Prompts per generation batch."),
    attempts: int = typer.Option(1, help="Generations per question until one passes the verifier (later ones "
                                         "sampled at temperature 0.7)."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Trace each question toward its gold answer along the graph paths that join them; verify; append to the
    JSONL file.

    Without --generator the offline path writer verbalises the best path (no language model; its name is in
    every record); with one, the model is shown the path and its evidence. Questions with no path are recorded
    as such, not traced. Resumable: questions already in the output file are skipped. Rejected traces are kept
    with their reasons.

        medkg traces generate casimedicos_arg_mcqa_it.jsonl --out traces.jsonl
    """
    from medkg.errors import MedkgError
    from medkg.rag.generators import GenerationConfig
    from medkg.rag.mcq import load_mcq, part_items, sample_items
    from medkg.rag.path_traces import path_evidence
    from medkg.rag.retrieve import MODES, Retriever, cache_dir, open_dense_index, open_text_index
    from medkg.rag.trace_export import append_rows, done_ids, trace_row
    from medkg.rag.traces import answer_evidence, generate_traces

    if retrieval not in MODES:
        raise MedkgError(f"unknown retrieval mode {retrieval!r} (use {', '.join(MODES)})")
    if evidence_mode not in EVIDENCE_MODES:
        raise MedkgError(f"unknown evidence {evidence_mode!r} (use {' or '.join(EVIDENCE_MODES)})")
    if evidence_mode == "retrieval" and generator is None:
        raise MedkgError("the path writer needs graph paths (--evidence paths); --evidence retrieval is for a "
                         "language model (--generator)")
    state: State = ctx.obj
    out_file = out_file or state.settings.home / "traces" / "traces.jsonl"
    items = []
    for source in dataset:
        loaded = load_mcq(source, split=split, limit=limit)
        loaded = part_items(loaded, part) if part else loaded
        items.extend(sample_items(loaded, sample, seed) if sample else loaded)
    done = done_ids(out_file)
    todo = [i for i in items if (i.dataset, i.id) not in done]
    if len(todo) < len(items):
        err.print(f"{len(items) - len(todo)} questions already traced in {out_file}; skipped", highlight=False)
    dense = evidence_mode == "retrieval" and retrieval in ("dense", "hybrid")
    retriever = Retriever(state.store(), open_text_index(state.settings),
                          open_dense_index(state.settings) if dense else None, cache_dir(state.settings))
    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed,
                              repetition_penalty=repetition_penalty)
    rows: list[dict] = []
    model = None
    if todo:
        model = open_trace_writer(generator, server_model=generator_model, cache_dir=state.settings.home / "models",
                                  batch_size=batch_size)
        if evidence_mode == "paths":
            def evidence_for(item):
                return path_evidence(retriever, item, k=k, max_facts=max_facts)
        else:
            def evidence_for(item):
                return answer_evidence(retriever, item, mode=retrieval, k=k, max_facts=max_facts)
        with CountProgress(disabled=state.quiet or fmt == "json") as progress:
            advance = progress("traces", len(todo))
            records = generate_traces(todo, evidence_for, model, config=config, batch_size=batch_size,
                                      attempts=attempts, paths_only=evidence_mode == "paths", progress=advance)
            for record in records:
                row = trace_row(record, retrieval_mode="paths" if evidence_mode == "paths" else retrieval)
                append_rows([row], out_file)
                rows.append(row)
    usage = getattr(model, "usage", None)
    _summary(rows, usage.as_dict() if usage else None, fmt, f"{out_file}")


@traces_app.command("verify")
def traces_verify(
    ctx: typer.Context,
    trace_file: Path = typer.Argument(..., help="Trace JSONL written by `medkg traces generate`."),
    verified_out: Optional[Path] = typer.Option(None, "--verified-out", help="Also write the passing rows here."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Re-run the verifier over a trace file (e.g. after editing traces or changing the rules) and report."""
    from medkg.rag.trace_export import read_records, trace_row
    from medkg.rag.traces import untraced, verify

    rows = []
    for record in read_records(trace_file):
        if record.trace.steps or not untraced(record.verification.reasons):  # an untraced question stays so
            record.verification = verify(record.trace, record.item, record.evidence)
        rows.append(trace_row(record, retrieval_mode=record.evidence.mode))
    if verified_out:
        from medkg.rag.trace_export import append_rows

        verified_out.unlink(missing_ok=True)
        append_rows([r for r in rows if r["verified"]], verified_out)
    _summary(rows, None, fmt, str(trace_file))
