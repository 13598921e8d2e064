"""The house rules of ``src/`` (issue #28), read from the source with the standard library's
``ast``: no module over 500 lines, and no import circle among our modules except the Textual
app ↔ screens shape.

Which imports count, and why:

- every ``import``/``from … import`` of a ``tradealerts`` module, at module level **and inside
  functions**: a function-level import defers a circle to the first call, it does not remove
  it (the issue's circles — ``server/cli.py`` ↔ ``cli_owner.py`` taking each other's private
  helpers — were function-level on one side); the two modules still cannot be understood or
  moved apart;
- ``if TYPE_CHECKING:`` imports too, with one exception: a module naming, for its annotations,
  the type of a Textual app of its own package (a module that defines a subclass of ``App``,
  directly or through layers of ours: today ``tui/calls.py``, ``stream.py`` and ``app.py``).
  Textual's screens and widgets reach the running app as ``self.app``; the app imports its
  screens to push them; a screen that wants ``self.app`` typed names the app's class for the
  type checker only, which runs nothing at import (the shape of posting's screens);
- ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``
  (its ``__init__``). The parent packages a dotted import runs on the way are not edges of
  their own: every module would then depend on every ``__init__`` above it, and a package that
  re-exports its private modules behind a public face (httpx's shape) would be in a circle
  with each of them by construction.

Run ``python tests/test_house.py`` for the big modules and every circle with its import lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT_PACKAGE = "tradealerts"
MAX_LINES = 500


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module
    line: int
    type_checking: bool  # under ``if TYPE_CHECKING:``
    in_function: bool


def modules() -> dict[str, Path]:
    """Every module of ``src/``: dotted name -> file (``pkg/__init__.py`` is ``pkg``)."""
    found: dict[str, Path] = {}
    for path in sorted((SRC / ROOT_PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(
    body: list[ast.stmt], type_checking: bool, in_function: bool
) -> Iterator[tuple[ast.stmt, bool, bool]]:
    """Every statement under ``body``, with whether it sits under TYPE_CHECKING / a function."""
    for node in body:
        yield node, type_checking, in_function
        if isinstance(node, ast.If):
            inner = type_checking or _is_type_checking(node.test)
            yield from _statements(node.body, inner, in_function)
            yield from _statements(node.orelse, type_checking, in_function)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _statements(node.body, type_checking, True)
        elif isinstance(node, ast.ClassDef):
            yield from _statements(node.body, type_checking, in_function)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _statements(block, type_checking, in_function)
            for handler in node.handlers:
                yield from _statements(handler.body, type_checking, in_function)
        elif isinstance(node, ast.With | ast.AsyncWith | ast.For | ast.AsyncFor | ast.While):
            yield from _statements(node.body, type_checking, in_function)
            yield from _statements(getattr(node, "orelse", []), type_checking, in_function)
        elif isinstance(node, ast.Match):
            for case in node.cases:
                yield from _statements(case.body, type_checking, in_function)


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    """The imports of our own modules that module ``name`` makes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node, type_checking, in_function in _statements(tree.body, False, False):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                parent = ".".join(base + ([node.module] if node.module else []))
            else:
                parent = node.module or ""
            for alias in node.names:
                child = f"{parent}.{alias.name}"
                targets.append(child if child in known else parent)
        for target in dict.fromkeys(targets):  # ``from pkg import a, b``: one edge to pkg
            if target in known and target != name:
                yield Import(name, target, node.lineno, type_checking, in_function)


def _base_name(base: ast.expr) -> str:
    """A class base's own name: ``App`` of ``App``, ``App[None]`` and ``textual.app.App``."""
    if isinstance(base, ast.Subscript):
        base = base.value
    if isinstance(base, ast.Attribute):
        return base.attr
    return base.id if isinstance(base, ast.Name) else ""


def app_modules(known: dict[str, Path]) -> set[str]:
    """The modules that define a Textual app: a class based on ``App``, or on such a class
    of ours (an app built in layers, each a subclass of the one before)."""
    classes = [
        (name, node.name, {_base_name(b) for b in node.bases})
        for name, path in known.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
    ]
    names, found = {"App"}, set[tuple[str, str]]()
    while True:
        more = {(module, cls) for module, cls, bases in classes if bases & names} - found
        if not more:
            return {module for module, _ in found}
        found |= more
        names |= {cls for _, cls in more}


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])  # tradealerts.tui, tradealerts.server, …


def counted(edge: Import, apps: set[str]) -> bool:
    """Whether ``edge`` takes part in circles (the one exception: see the module's doc)."""
    return not (
        edge.type_checking
        and edge.target in apps
        and _package(edge.source) == _package(edge.target)
    )


def graph() -> dict[str, list[Import]]:
    """module -> the counted imports it makes."""
    known = modules()
    apps = app_modules(known)
    return {
        name: [edge for edge in imports(name, path, known) if counted(edge, apps)]
        for name, path in known.items()
    }


def circles(edges: dict[str, list[Import]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth: the longest import chain, a few dozen
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in edges[node]:
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(component: list[str], edges: dict[str, list[Import]]) -> str:
    """A circle's modules and the import lines that tie them, for a readable failure."""
    members = set(component)
    lines = [" ↔ ".join(component)]
    for name in component:
        for edge in edges[name]:
            if edge.target in members:
                where = "in a function" if edge.in_function else "module level"
                if edge.type_checking:
                    where += ", TYPE_CHECKING"
                lines.append(f"    {name}:{edge.line} imports {edge.target} ({where})")
    return "\n".join(lines)


def big_modules() -> list[tuple[str, int]]:
    """(file under src/, lines) of every module over MAX_LINES, biggest first."""
    sizes = [
        (str(path.relative_to(SRC)), len(path.read_text(encoding="utf-8").splitlines()))
        for path in modules().values()
    ]
    return sorted(((p, n) for p, n in sizes if n > MAX_LINES), key=lambda s: -s[1])


# --- the tests ---------------------------------------------------------------------------------


def test_no_module_over_500_lines() -> None:
    big = big_modules()
    assert not big, f"modules of src/ over {MAX_LINES} lines:\n" + "\n".join(
        f"    {path}: {n}" for path, n in big
    )


def test_no_import_circle() -> None:
    edges = graph()
    found = circles(edges)
    assert not found, "import circles among src/ modules:\n" + "\n".join(
        describe(c, edges) for c in found
    )


def test_the_graph_sees_the_shapes_it_judges(tmp_path: Path) -> None:
    """The reader itself: relative, function-level and TYPE_CHECKING imports are found, the
    app ↔ screen shape is let through and a circle of two modules is caught."""
    known = {
        "tradealerts.tui.app": tmp_path / "app.py",
        "tradealerts.tui.calls": tmp_path / "calls.py",  # the app's first layer
        "tradealerts.tui.screens.alerts": tmp_path / "alerts.py",
        "tradealerts.server.app": tmp_path / "server_app.py",  # the same class name, no app
        "tradealerts.a": tmp_path / "a.py",
        "tradealerts.b": tmp_path / "b.py",
    }
    known["tradealerts.server.app"].write_text("class TradeAlertsApp(FastAPI):\n    pass\n")
    known["tradealerts.tui.calls"].write_text(
        "from textual import app\nclass Calls(app.App[None]):\n    pass\n"
    )
    known["tradealerts.tui.app"].write_text(
        "from tradealerts.tui.calls import Calls\nfrom tradealerts.tui.screens import alerts\n"
        "class TradeAlertsApp(Calls):\n    pass\n"
    )
    known["tradealerts.tui.screens.alerts"].write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from tradealerts.tui.app import TradeAlertsApp\n"
    )
    known["tradealerts.a"].write_text("from . import b\n")
    known["tradealerts.b"].write_text("def f():\n    from tradealerts.a import g\n")
    apps = app_modules(known)
    assert apps == {"tradealerts.tui.app", "tradealerts.tui.calls"}
    edges = {
        name: [e for e in imports(name, path, known) if counted(e, apps)]
        for name, path in known.items()
    }
    assert circles(edges) == [["tradealerts.a", "tradealerts.b"]]
    (second,) = imports("tradealerts.b", known["tradealerts.b"], known)
    assert second.in_function and second.line == 2
    (screen,) = imports(
        "tradealerts.tui.screens.alerts", known["tradealerts.tui.screens.alerts"], known
    )
    assert screen.type_checking and not counted(screen, apps)
    assert counted(screen, set())  # the same import of a module that is not an app counts


if __name__ == "__main__":
    for path, n in big_modules():
        print(f"{n:5d}  {path}")
    edges = graph()
    for component in circles(edges):
        print(describe(component, edges))
