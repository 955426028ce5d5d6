"""The `medkg` command: a thin face over the library. Every command calls a public function.

This module only assembles the command: the root options come from `medkg.cli.common` (with what the groups
share: state, consoles, progress, error handling), each command group from its own module, which imports from
`medkg.cli.common` and the library only, never from here or from another group:

    kg         medkg kg …                                 (medkg.cli.kg)
    search     medkg search, medkg index …, eval retrieval (medkg.cli.search)
    demo       medkg demo                                 (medkg.cli.demo)
    extract    medkg annotate, eval annotate              (medkg.cli.extract)
    mcq        medkg eval mcq                             (medkg.cli.mcq)
    traces     medkg traces …                             (medkg.cli.traces)
    train      medkg train …, medkg qa, eval qa           (medkg.cli.train)
    translate  medkg translate                            (medkg.cli.translate)

Commands are listed in `--help` in the order they are added here (root commands first, then the groups).
User mistakes (MedkgError) are printed as one line, without a traceback, and exit with status 2.
"""
from __future__ import annotations

import typer

from medkg.cli import demo, extract, kg, mcq, search, traces, train, translate
from medkg.cli.common import options, run_app

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="medkg: medical knowledge graphs, multilingual clinical annotation and graph-cited QA.")
app.callback()(options)

eval_app = typer.Typer(name="eval", no_args_is_help=True, help="Evaluations on real data.")
for _group in (search, extract, mcq, train):
    eval_app.add_typer(_group.eval_commands)  # no name: the group's commands join `medkg eval`

for _group in (search, demo, extract, train, translate):
    app.add_typer(_group.commands)  # no name: `medkg search`, `medkg demo`, ... at the root
for _sub_app in (kg.kg_app, eval_app, search.index_app, traces.traces_app, train.train_app):
    app.add_typer(_sub_app)


def main() -> None:
    run_app(app)
