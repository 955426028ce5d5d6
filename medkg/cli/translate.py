"""`medkg translate`: machine-translate MCQ datasets with any generator, keeping only checked translations.

Per dataset and language it writes ``<out>/<dataset>.<lang>.jsonl`` (accepted items, medkg jsonl that
`read_mcq` / `medkg eval mcq` read) and ``<out>/<dataset>.<lang>.rejected.jsonl`` (id, problems, raw reply),
so no item is lost silently. Both files are rewritten atomically after every chunk: an interrupted run keeps
what it finished, and a re-run skips every id already in either file (delete the rejected file to retry).
"""
from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from medkg.cli.common import CountProgress, State, err, out
from medkg.errors import MedkgError

commands = typer.Typer()  # `medkg translate`


def _stem(dataset: str) -> str:
    """A file-name-safe dataset name (HF ids hold / and :)."""
    return re.sub(r"[^\w.-]+", "_", dataset).strip("_")


def _read_done(accepted: Path, rejected: Path) -> tuple[list, list[dict]]:
    """What earlier runs wrote: accepted MCQItems and rejected rows (an empty file is a valid 'none')."""
    from medkg.kg.readers.jsonl import iter_jsonl
    from medkg.rag.mcq import read_mcq

    items = read_mcq(accepted) if accepted.is_file() and accepted.read_text(encoding="utf-8").strip() else []
    rows = []
    if rejected.is_file():
        for number, row in iter_jsonl(rejected):
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                raise MedkgError("a rejected row needs a text 'id'", path=rejected, line=number)
            rows.append(row)
    return items, rows


def _save(accepted_items: list, rejected_rows: list[dict], accepted: Path, rejected: Path) -> None:
    """Both files, each written to a temp file and renamed into place (never half-written)."""
    from medkg.rag.mcq import write_jsonl, write_mcq

    try:
        write_mcq(accepted_items, accepted)
        write_jsonl(rejected_rows, rejected)
    except OSError as error:
        raise MedkgError(f"cannot write the translations: {error}", path=accepted.parent) from None


@commands.command("translate")
def translate(
    ctx: typer.Context,
    dataset: list[str] = typer.Argument(..., help="MCQ files (MedQA/MedMCQA jsonl, HEAD-QA json) or HF dataset ids."),
    to: list[str] = typer.Option(..., "--to", help="Target language code: it, es, fr, de, pt, ... (repeatable)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: <workspace>/translations)."),
    generator_spec: Optional[str] = typer.Option(
        None, "--generator", help="default (SmolLM2-135M-Instruct, offline), a Hugging Face id or folder, a .gguf "
                                  "file, or the http(s) URL of an OpenAI-compatible server."),
    generator_model: Optional[str] = typer.Option(None, help="Model name on the server (when it serves several)."),
    split: Optional[str] = typer.Option(None, help="Split of a Hugging Face dataset (e.g. test, validation)."),
    limit: Optional[int] = typer.Option(None, help="First N questions per dataset."),
    sample: Optional[int] = typer.Option(None, help="A fixed random sample of N questions per dataset."),
    seed: int = typer.Option(13, help="Seed of --sample."),
    batch_size: int = typer.Option(8, help="Conversations per generate call."),
    max_new_tokens: int = typer.Option(2048, help="Cap on each reply (each batch gets ~2x its source length)."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Translate questions and options; keep a translation only if option labels, numbers and units survive."""
    from medkg.rag.generators import GenerationConfig, open_generator
    from medkg.rag.mcq import load_mcq, sample_items
    from medkg.rag.translate import language_name

    # Every user mistake surfaces before the (slow) generator loads.
    if fmt not in ("table", "json"):
        raise MedkgError(f"unknown format {fmt!r} (use table or json)")
    langs = list(dict.fromkeys(code.lower() for code in to))
    for code in langs:
        language_name(code)
    if batch_size < 1:
        raise MedkgError(f"--batch-size must be at least 1 (got {batch_size})")
    config = GenerationConfig(max_new_tokens=max_new_tokens)
    state: State = ctx.obj
    out_dir = out_dir or state.settings.home / "translations"
    jobs: dict[str, list] = {}
    for source in dataset:
        items = load_mcq(source, split=split, limit=limit)
        items = sample_items(items, sample, seed) if sample is not None else items
        name = _stem(items[0].dataset) if items else _stem(source)
        if name in jobs:  # ids are per dataset (medqa-us-4:<line>): two files of one name would collide
            raise MedkgError(f"two inputs are both dataset {name!r}; translate them in separate runs or --out folders")
        jobs[name] = items

    loaded: list = []  # the generator, opened once and only when some item needs translating

    def generator():
        if not loaded:
            loaded.append(open_generator(generator_spec, server_model=generator_model,
                                         cache_dir=state.settings.home / "models", batch_size=batch_size))
        return loaded[0]

    quiet = state.quiet or fmt == "json"
    with CountProgress(disabled=quiet) as progress:
        summary = [_translate_one(name, items, lang, out_dir, generator, config, batch_size, progress, quiet)
                   for name, items in jobs.items() for lang in langs]
    name = loaded[0].name if loaded else None
    if fmt == "json":
        out.print_json(json.dumps({"generator": name, "out": str(out_dir), "results": summary}, ensure_ascii=False))
    else:
        _print_summary(summary, f"translations by {name or '(no generation needed)'} → {out_dir}")


def _translate_one(name: str, items: list, lang: str, out_dir: Path, generator, config, batch_size: int,
                   progress, quiet: bool) -> dict:
    """One dataset into one language: skip what the files already hold, translate the rest, save as it goes."""
    from medkg.rag.translate import problem_kind, translate_items

    accepted_path, rejected_path = out_dir / f"{name}.{lang}.jsonl", out_dir / f"{name}.{lang}.rejected.jsonl"
    accepted, rejected = _read_done(accepted_path, rejected_path)
    done = {item.id for item in accepted} | {row["id"] for row in rejected}
    pending = [item for item in items if item.id not in done]
    skipped = len(items) - len(pending)
    if skipped and not quiet:
        err.print(f"{name} → {lang}: {skipped} of {len(items)} already in {accepted_path.name} or "
                  f"{rejected_path.name}, skipped", highlight=False)
    model = generator() if pending else None
    before = model.usage.as_dict() if model else {}
    started, kinds, counts = time.perf_counter(), Counter(), Counter()
    advance = progress(f"{name} → {lang}", len(pending)) if pending else None
    chunk = 4 * batch_size  # files are rewritten after every chunk: an interrupted run loses one chunk at most
    for start in range(0, len(pending), chunk):
        for r in translate_items(pending[start:start + chunk], model, lang, config=config, batch_size=batch_size,
                                 progress=advance):
            counts["accepted" if r.accepted else "rejected"] += 1
            if r.accepted:
                accepted.append(r.translated)
            else:
                kinds.update({problem_kind(p) for p in r.problems})  # once per item: "items with this problem"
                rejected.append({"id": r.source.id, "problems": r.problems, "raw_reply": r.raw_reply,
                                 "translated_by": model.name})
        _save(accepted, rejected, accepted_path, rejected_path)
    if not accepted_path.exists() or not rejected_path.exists():  # nothing to do: still leave both files
        _save(accepted, rejected, accepted_path, rejected_path)
    after = model.usage.as_dict() if model else {}
    return {"dataset": name, "lang": lang, "items": len(items), "skipped": skipped, "accepted": counts["accepted"],
            "rejected": counts["rejected"], "problems": dict(kinds.most_common()),
            "tokens": {k: after[k] - before.get(k, 0) for k in after},
            "seconds": round(time.perf_counter() - started, 1),
            "accepted_file": str(accepted_path), "rejected_file": str(rejected_path)}


def _print_summary(summary: list[dict], title: str) -> None:
    table = Table("dataset", "lang", "items", "skipped", "accepted", "rejected", "top problems (items)",
                  "tokens in/out", "seconds", header_style="bold", title=title)
    for row in summary:
        problems = ", ".join(f"{kind} {n}" for kind, n in list(row["problems"].items())[:3])
        tokens = row["tokens"]
        table.add_row(row["dataset"], row["lang"], str(row["items"]), str(row["skipped"]), str(row["accepted"]),
                      str(row["rejected"]), problems,
                      f"{tokens.get('prompt_tokens', 0):,}/{tokens.get('completion_tokens', 0):,}",
                      f"{row['seconds']:.1f}")
    out.print(table)
