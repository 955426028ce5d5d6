"""The shape of the CLI package and of medkg's imports: the help users see, and no import cycles."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "medkg"
CLI = PACKAGE / "cli"
SHARED = "medkg.cli.common"
HELP_TREE = ROOT / "tests" / "data" / "cli_help_tree.txt"
REGENERATE = "python scripts/cli_help_tree.py > tests/data/cli_help_tree.txt"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def medkg_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST, *, top_level: bool):
    """Import statements; with `top_level`, only those run when the module is imported (not in functions,
    not under `if TYPE_CHECKING:`)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
            continue
        if top_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if top_level and isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(path: Path, modules: dict[str, Path], *, top_level: bool) -> set[str]:
    """The medkg modules a file imports: `from pkg import sub` counts as `pkg.sub` when `sub` is a module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8")), top_level=top_level):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m == "medkg" or m.startswith("medkg.")}


def test_help_of_every_command_is_unchanged():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "cli_help_tree.py")], cwd=ROOT,
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert result.returncode == 0, result.stderr
    expected = HELP_TREE.read_text(encoding="utf-8")
    if result.stdout != expected:
        import difflib

        diff = "".join(difflib.unified_diff(expected.splitlines(True), result.stdout.splitlines(True),
                                            "tests/data/cli_help_tree.txt", "scripts/cli_help_tree.py", n=2))
        raise AssertionError(f"the CLI's help changed. If the change is intended, regenerate the file with\n"
                             f"    {REGENERATE}\nand commit it.\n\n{diff[:20000]}")


def test_command_modules_import_only_the_shared_module():
    modules = medkg_modules()
    assert SHARED in modules
    groups = [m for m in modules if m.startswith("medkg.cli.") and m not in (SHARED, "medkg.cli.__main__")]
    assert groups, "no command-group modules in medkg/cli/"
    problems = []
    for name in [SHARED, *groups]:
        # Anywhere in the file, function bodies included: a lazy import is still a dependency.
        for target in imported_modules(modules[name], modules, top_level=False):
            if target == "medkg.cli" or (target.startswith("medkg.cli.") and target != SHARED):
                problems.append(f"{name} imports {target}")
            if name == SHARED and target.startswith("medkg.cli"):
                problems.append(f"{name} (the shared module) imports {target}")
    assert not problems, "command-group modules may import only medkg.cli.common:\n" + "\n".join(problems)


def import_cycles(*, top_level: bool) -> list[str]:
    """One cycle per strongly connected group of medkg modules, with every module of the group."""
    modules = medkg_modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target in imported_modules(path, modules, top_level=top_level):
            if target in modules and target != name:
                graph.add_edge(name, target)
    cycles = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            cycle = [edge[0] for edge in nx.find_cycle(graph.subgraph(component))]
            cycles.append(" -> ".join(cycle + cycle[:1]) + f"  (modules in the knot: {', '.join(sorted(component))})")
    return sorted(cycles)


def test_no_import_cycles_in_medkg():
    cycles = import_cycles(top_level=True)
    assert not cycles, "module-level import cycles among medkg modules:\n" + "\n".join(cycles)


def test_no_import_cycles_hidden_in_functions():
    """An import inside a function that would close a cycle at module level is a cycle too, only deferred."""
    cycles = import_cycles(top_level=False)
    assert not cycles, "import cycles among medkg modules, counting imports inside functions:\n" + "\n".join(cycles)
