"""`medkg eval mcq`: multiple-choice accuracy (MedQA, MedMCQA, HEAD-QA, or a Hugging Face dataset id)."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Optional

import typer
from rich.table import Table

from medkg.cli import State, _CountProgress, err, eval_app, out


@eval_app.command("mcq")
def eval_mcq(
    ctx: typer.Context,
    dataset: list[str] = typer.Argument(..., help="MCQ files (MedQA/MedMCQA jsonl, HEAD-QA json) or HF dataset ids."),
    mode: str = typer.Option("retrieval", help="retrieval (no LLM: each option scored by the text index)."),
    split: Optional[str] = typer.Option(None, help="Split of a Hugging Face dataset (e.g. test, validation)."),
    limit: Optional[int] = typer.Option(None, help="First N questions per dataset."),
    sample: Optional[int] = typer.Option(None, help="A fixed random sample of N questions per dataset."),
    seed: int = typer.Option(13, help="Seed of --sample."),
    k: int = typer.Option(3, "-k", help="Passages per option (retrieval mode)."),
    backend: str = typer.Option("tantivy", help="Text index back-end."),
    subjects: bool = typer.Option(False, help="Also print accuracy per subject."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Accuracy per dataset, language (and subject) with 95% confidence intervals, beside chance."""
    from medkg.errors import MedkgError
    from medkg.rag.mcq import load_mcq, sample_items
    from medkg.rag.mcq_eval import MODES, accuracy_rows, retrieval_only
    from medkg.rag.retrieve import open_text_index

    if mode not in MODES:
        raise MedkgError(f"unknown mode {mode!r}: available now: {', '.join(MODES)}")
    state: State = ctx.obj
    items = []
    for source in dataset:
        loaded = load_mcq(source, split=split, limit=limit)
        items.extend(sample_items(loaded, sample, seed) if sample else loaded)
    text_index = open_text_index(state.settings, backend)
    with _CountProgress(disabled=state.quiet or fmt == "json") as progress:
        predictions = retrieval_only(items, text_index, k=k, progress=progress)
    rows = accuracy_rows(items, predictions)
    unscored: dict[str, int] = {}
    for item, prediction in zip(items, predictions):
        if not any(prediction.scores.values()):
            unscored[item.lang] = unscored.get(item.lang, 0) + 1
    for lang, count in unscored.items():
        err.print(f"[yellow]warning[/yellow]: {count} {lang} questions retrieved nothing for any option "
                  f"(are there {lang} passages in the index?); they count as wrong", highlight=False)
    overall = [r for r in rows if r.subject == "all"]
    if fmt == "json":
        correct = sum(p.correct for p in predictions)
        out.print_json(json.dumps({"mode": mode, "questions": len(items), "accuracy": round(correct / len(items), 4),
                                   "results": [asdict(r) for r in (rows if subjects else overall)]},
                                  ensure_ascii=False))
        return
    table = Table("dataset", "lang", "subject", "questions", "accuracy", "95% CI", "chance", header_style="bold",
                  title=f"{mode}: {len(items)} questions")
    for r in rows if subjects else overall:
        table.add_row(r.dataset, r.lang, r.subject, str(r.questions), f"{100 * r.accuracy:.1f}",
                      f"{100 * r.ci_low:.1f}–{100 * r.ci_high:.1f}", f"{100 * r.chance:.1f}")
    out.print(table)
