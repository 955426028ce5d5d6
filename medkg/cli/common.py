"""What the command groups of `medkg` share: the root options and their `State`, the consoles, progress bars,
output used by more than one group, and the handling of user mistakes.

User mistakes (MedkgError) are printed as one line, without a traceback, and exit with status 2.
This module imports no command module: each group (medkg.cli.kg, medkg.cli.search, ...) imports from here, and
medkg.cli assembles them into the `medkg` command.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from medkg.config import Settings, load_settings
from medkg.errors import MedkgError

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


def options(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(None, help="Workspace folder (default: $MEDKG_HOME or ./.medkg)."),
    endpoint: Optional[str] = typer.Option(None, help="Use a remote SPARQL 1.1 endpoint instead of the embedded store."),
    update_endpoint: Optional[str] = typer.Option(None, help="Update URL of the remote store, if it differs."),
    config: Optional[Path] = typer.Option(None, help="Settings file (default: ./medkg.toml if present)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or chatter."),
) -> None:
    ctx.obj = State(load_settings(config, home=home, endpoint=endpoint, update_endpoint=update_endpoint), quiet)
    ctx.call_on_close(ctx.obj.close)


class LoadProgress:
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


class CountProgress:
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


def print_evidence(evidence) -> None:
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


def serve_graph(state: State, host: str, port: int, *, allow_update: bool, timeout: Optional[float],
                explorer: bool) -> None:
    """`medkg kg serve` (and `medkg demo --serve`): the SPARQL endpoint and the evidence explorer, until Ctrl+C."""
    from medkg.kg.server import serve

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


def run_app(app: typer.Typer) -> None:
    """Run the `medkg` command; a user mistake (MedkgError) is one line on stderr and exit status 2."""
    try:
        app()
    except MedkgError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        sys.exit(2)
