"""`medkg eval mcq`: multiple-choice accuracy (MedQA, MedMCQA, HEAD-QA, or a Hugging Face dataset id)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from medkg.cli.common import CountProgress, State, err, out

MODE_HELP = ("retrieval (no LLM: each option scored by its passages and its graph paths to the question), "
             "zero-shot, rag (zero-shot with retrieved evidence) or few-shot (verified traces as demonstrations); "
             "rag and few-shot also run zero-shot as their baseline.")

eval_commands = typer.Typer()  # `medkg eval mcq`


@eval_commands.command("mcq")
def eval_mcq(
    ctx: typer.Context,
    dataset: list[str] = typer.Argument(..., help="MCQ files (MedQA/MedMCQA jsonl, HEAD-QA json, medkg jsonl) "
                                                  "or HF dataset ids."),
    mode: str = typer.Option("retrieval", help=MODE_HELP),
    split: Optional[str] = typer.Option(None, help="Split of a Hugging Face dataset (e.g. test, validation)."),
    limit: Optional[int] = typer.Option(None, help="First N questions per dataset."),
    sample: Optional[int] = typer.Option(None, help="A fixed random sample of N questions per dataset."),
    part: Optional[str] = typer.Option(None, help="K/N: only part K of N of each dataset, split by question id "
                                                  "(the other part of one that traces were generated on)."),
    seed: int = typer.Option(13, help="Seed of --sample and of the few-shot demonstrations."),
    signals: str = typer.Option("text,dense,paths", help="Retrieval mode: the option scores to add, of text "
                                "(BM25 passages), dense (embeddings; used when the dense index is built) and "
                                "paths (graph paths from the question's concepts)."),
    k: int = typer.Option(3, "-k", help="Passages per option (retrieval) or of evidence (rag)."),
    backend: str = typer.Option("tantivy", help="Text index back-end."),
    retrieval: str = typer.Option("lexical", help="Retrieval mode of rag (lexical = text + graph; hybrid needs "
                                                  "the dense index)."),
    generator: Optional[str] = typer.Option(None, help="default (SmolLM2-135M-Instruct, offline), a Hugging Face "
                                                       "id / folder / .gguf, or an OpenAI-compatible server URL."),
    generator_model: Optional[str] = typer.Option(None, help="Model name on the server (when it serves several)."),
    traces: Optional[Path] = typer.Option(None, help="Trace JSONL whose verified traces are the few-shot demos."),
    shots: int = typer.Option(3, help="Demonstrations in few-shot mode."),
    baseline: bool = typer.Option(True, help="Run zero-shot beside rag / few-shot."),
    predictions_out: Optional[Path] = typer.Option(None, "--predictions", help="Write per-question predictions (JSONL)."),
    subjects: bool = typer.Option(False, help="Also print accuracy per subject."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Accuracy per dataset, language (and subject) with 95% confidence intervals, beside chance or the
    no-retrieval / no-demonstration baseline."""
    from medkg.errors import MedkgError
    from medkg.rag.mcq import load_mcq, part_items, sample_items
    from medkg.rag.mcq_eval import MODES, accuracy_rows, letter_counts

    if mode not in MODES:
        raise MedkgError(f"unknown mode {mode!r} (use {', '.join(MODES)})")
    if mode == "few-shot" and traces is None:
        raise MedkgError("few-shot needs --traces FILE (from `medkg traces generate`)")
    state: State = ctx.obj
    items = []
    for source in dataset:
        loaded = load_mcq(source, split=split, limit=limit)
        loaded = part_items(loaded, part) if part else loaded
        items.extend(sample_items(loaded, sample, seed) if sample else loaded)
    if not items:
        raise MedkgError("no questions to evaluate")
    runs: dict[str, list] = {}
    usage = None
    with CountProgress(disabled=state.quiet or fmt == "json") as progress:
        if mode == "retrieval":
            from medkg.rag.mcq_retrieval import answer_by_retrieval, weights_for

            weights = weights_for(signals)
            runs[mode] = answer_by_retrieval(items, _retriever(state, backend, dense=weights.dense > 0), k=k,
                                             weights=weights, progress=progress)
            _warn_unscored(items, runs[mode])
        else:
            runs, usage = _generator_runs(state, items, mode, progress, generator=generator,
                                          generator_model=generator_model, traces=traces, shots=shots, seed=seed,
                                          k=k, backend=backend, retrieval=retrieval, baseline=baseline)
    if predictions_out:
        _write_predictions(predictions_out, items, runs)
    results = {name: accuracy_rows(items, predictions) for name, predictions in runs.items()}
    shown = {name: [r for r in rows if subjects or r.subject == "all"] for name, rows in results.items()}
    if fmt == "json":
        summary = {name: round(sum(p.correct for p in preds) / len(items), 4) for name, preds in runs.items()}
        document = {"mode": mode, "questions": len(items), "accuracy": summary[mode],
                    "results": [{"mode": name, **asdict(r)} for name, rows in shown.items() for r in rows]}
        document["letters"] = {"gold": letter_counts(i.answer for i in items),
                               **{name: letter_counts(p.predicted for p in preds) for name, preds in runs.items()}}
        if len(runs) > 1:
            document["baseline"] = {"mode": "zero-shot", "accuracy": summary["zero-shot"]}
        if usage:
            document["usage"] = usage
        out.print_json(json.dumps(document, ensure_ascii=False))
        return
    table = Table("mode", "dataset", "lang", "subject", "questions", "accuracy", "95% CI", "chance",
                  header_style="bold", title=f"{mode}: {len(items)} questions")
    for name, rows in shown.items():
        for r in rows:
            table.add_row(name, r.dataset, r.lang, r.subject, str(r.questions), f"{100 * r.accuracy:.1f}",
                          f"{100 * r.ci_low:.1f}–{100 * r.ci_high:.1f}", f"{100 * r.chance:.1f}")
    out.print(table)
    gold = letter_counts(i.answer for i in items)
    for name, predictions in runs.items():  # a model that answers by position shows here, not in accuracy
        picked = letter_counts(p.predicted for p in predictions)
        out.print(f"{name} answers by letter: " + ", ".join(f"{k} {v}" for k, v in picked.items())
                  + "  (gold: " + ", ".join(f"{k} {v}" for k, v in gold.items()) + ")", highlight=False)
    if usage:
        out.print(f"generator tokens: {usage['prompt_tokens']:,} prompt, {usage['completion_tokens']:,} generated, "
                  f"{usage['requests']:,} requests")


def _retriever(state: State, backend: str, *, dense: bool):
    """The text index, the dense index when it has been built, and graph retrieval with its cache."""
    from medkg.rag.retrieve import Retriever, cache_dir, index_dir, open_dense_index, open_text_index

    dense_index = open_dense_index(state.settings) if dense and (index_dir(state.settings) / "dense").is_dir() else None
    if dense_index is not None and not len(dense_index):
        dense_index = None
    return Retriever(state.store(), open_text_index(state.settings, backend), dense_index, cache_dir(state.settings))


def _generator_runs(state: State, items, mode: str, progress, *, generator, generator_model, traces, shots, seed,
                    k, backend, retrieval, baseline):
    from medkg.rag.generators import open_generator
    from medkg.rag.mcq_answer import answer_items, pick_demos, question_evidence

    evidence_for = demos = None
    if mode == "rag":
        from medkg.rag.retrieve import Retriever, cache_dir, open_dense_index, open_text_index

        retriever = Retriever(state.store(), open_text_index(state.settings, backend),
                              open_dense_index(state.settings) if retrieval in ("dense", "hybrid") else None,
                              cache_dir(state.settings))
        evidence_for = lambda item: question_evidence(retriever, item, mode=retrieval, k=k)  # noqa: E731
    if mode == "few-shot":
        from medkg.rag.trace_export import read_records

        records = list(read_records(traces))
        langs = {i.lang for i in items}
        demos = pick_demos(records, shots, lang=next(iter(langs)) if len(langs) == 1 else None, seed=seed)
    model = open_generator(generator, server_model=generator_model, cache_dir=state.settings.home / "models")
    runs = {}
    if mode != "zero-shot" and baseline:
        runs["zero-shot"] = answer_items(items, model, mode="zero-shot", progress=progress("zero-shot", len(items)))
    runs[mode] = answer_items(items, model, mode=mode, evidence_for=evidence_for, demos=demos or (),
                              progress=progress(mode, len(items)))
    return runs, model.usage.as_dict()


def _warn_unscored(items, predictions) -> None:
    unscored: dict[str, int] = {}
    totals: dict[str, int] = {}
    for item, prediction in zip(items, predictions):
        totals[item.lang] = totals.get(item.lang, 0) + 1
        if not any(prediction.scores.values()):
            unscored[item.lang] = unscored.get(item.lang, 0) + 1
    for lang, count in unscored.items():
        err.print(f"[yellow]warning[/yellow]: {count} of {totals[lang]} {lang} questions found no passage and no "
                  "graph path for any option; they count as wrong", highlight=False)


def _write_predictions(path: Path, items, runs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for name, predictions in runs.items():
            for item, p in zip(items, predictions):
                handle.write(json.dumps({"mode": name, "id": item.id, "dataset": item.dataset, "lang": item.lang,
                                         "answer": item.answer, "predicted": p.predicted, "correct": p.correct,
                                         "scores": p.scores, "evidence": p.evidence, "paths": p.paths},
                                        ensure_ascii=False) + "\n")
