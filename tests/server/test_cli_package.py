"""The shape of ``tradealerts.server.cli``: command modules import the package's helpers
(``common``, and ``remote`` for the admin commands), never the package's face or each
other, so there is no import circle; no module is over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import tradealerts.server.cli as package

FOLDER = Path(package.__file__).parent
HELPERS = {"tradealerts.server.cli.common", "tradealerts.server.cli.remote"}


def _imports(path: Path) -> set[str]:
    """What ``path`` imports from inside the package (``from X import …`` and ``import X``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n.startswith("tradealerts.server.cli")}
    return found


def test_command_modules_take_only_the_shared_helpers() -> None:
    modules = sorted(p for p in FOLDER.glob("*.py") if p.name != "__init__.py")
    assert len(modules) >= 8
    for path in modules:
        extra = {n for n in _imports(path) if not n.startswith(tuple(HELPERS))}
        assert extra == set(), f"{path.name} imports {extra}"
    assert _imports(FOLDER / "common.py") == set()
    remote = _imports(FOLDER / "remote.py")
    assert remote and all(n.startswith("tradealerts.server.cli.common") for n in remote)


def test_no_module_is_over_500_lines() -> None:
    for path in FOLDER.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 500, path.name
