"""Print the `--help` of every `medkg` command (root, groups, subcommands), at a fixed width and without colours.

tests/test_cli_package.py compares this output with tests/data/cli_help_tree.txt, so that a refactoring of the
CLI cannot change what users see by accident. After an intended change to the CLI, regenerate the file:

    python scripts/cli_help_tree.py > tests/data/cli_help_tree.txt

The help is rendered without running any command callback (no workspace is opened or created).
"""
from __future__ import annotations

import contextlib
import io
import os
import sys

WIDTH = 100

# Read by typer (rich_utils) and rich when they are imported: set them first.
os.environ.update({"TERMINAL_WIDTH": str(WIDTH), "COLUMNS": str(WIDTH), "LINES": "50", "NO_COLOR": "1",
                   "_TYPER_FORCE_DISABLE_TERMINAL": "1", "TERM": "dumb"})
for name in ("FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
    os.environ.pop(name, None)

import click  # noqa: E402
import typer.main  # noqa: E402


def _help(command: click.Command, ctx: click.Context) -> str:
    """The command's help as `medkg … --help` prints it (typer's rich help prints to stdout; capture it)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        text = command.get_help(ctx)
    return buffer.getvalue() + (text or "")


def _walk(command: click.Command, ctx: click.Context):
    yield ctx.command_path, _help(command, ctx)
    if isinstance(command, click.Group) or hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None:
                continue
            sub_ctx = click.Context(sub, info_name=name, parent=ctx, terminal_width=WIDTH, max_content_width=WIDTH)
            yield from _walk(sub, sub_ctx)


def help_tree() -> str:
    from medkg.cli import app

    root = typer.main.get_command(app)
    ctx = click.Context(root, info_name="medkg", terminal_width=WIDTH, max_content_width=WIDTH)
    parts = []
    for path, text in _walk(root, ctx):
        trailing = "\n".join(line.rstrip() for line in text.splitlines())
        parts.append(f"===== {path} =====\n{trailing.strip(chr(10))}\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(help_tree())
