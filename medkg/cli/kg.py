"""`medkg kg …`: load ontologies and Wikipedia into the graph, query it, serve it."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import pyoxigraph as ox
import typer
from rich.table import Table

from medkg.cli.common import LoadProgress, State, err, out, serve_graph
from medkg.errors import MedkgError

kg_app = typer.Typer(name="kg", no_args_is_help=True,
                     help="Knowledge graph: load ontologies and Wikipedia, query, serve.")

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
    with LoadProgress(disabled=state.quiet or fmt == "json") as listener:
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
    state: State = ctx.obj
    serve_graph(state, host, port, allow_update=allow_update, timeout=timeout, explorer=explorer)


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
