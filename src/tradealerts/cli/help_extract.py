"""A Babel extractor for the CLI's ``--help`` texts (``babel-client.cfg``'s ``cli_help``).

Babel's Python extractor finds ``_()``/``N_()`` calls; the help texts Click shows are plain
literals instead: ``help="..."`` keyword arguments (``typer.Option``, ``typer.Argument``,
``typer.Typer``, ``app.command``), module constants named ``*_HELP`` (a shared option's help),
the docstrings of functions decorated ``@<app>.command(...)`` / ``@<app>.callback(...)`` (as
Typer reads them: ``inspect.cleandoc``), and the short helps of a ``LazyGroup``'s table
(``lazy`` / ``COMMANDS``: name -> (target, help)). This yields those too, after what Babel's
own extractor yields, so the source keeps its literals and ``cli.help_language`` translates the
built Click commands.

A module that says the words of installed ones (``cli.help_click``: Typer's) names them in
module-level tuples: ``GETTEXT_MODULES`` (their gettext messages) and ``HELP_MODULES`` (their
``help=`` literals); those are extracted with it, from the installed sources, each entry's
comment naming its module for the translator.
"""

from __future__ import annotations

import ast
import importlib.util
import io
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages.extract import extract_python

__all__ = ["extract", "help_texts"]

#: the assignments holding a LazyGroup's table of (target, short help)
_TABLES = {"lazy", "COMMANDS"}
_DECORATORS = {"command", "callback"}
#: the tuples naming installed modules whose words a module says
_INSTALLED = {"GETTEXT_MODULES", "HELP_MODULES"}


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_command(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in _DECORATORS


def help_texts(source: str) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of every help text of ``source`` (a CLI module), in no set order."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "help":
            text = _literal(node.value)
            if text:
                yield node.value.lineno, text
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if any(_is_command(d) for d in node.decorator_list):
                doc = ast.get_docstring(node, clean=True)
                if doc:
                    yield node.body[0].lineno, doc
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if any(name.endswith("_HELP") for name in names):
                text = _literal(node.value)
                if text:
                    yield node.lineno, text
            if names & _TABLES and isinstance(node.value, ast.Dict):
                for value in node.value.values:
                    if isinstance(value, ast.Tuple) and len(value.elts) == 2:
                        text = _literal(value.elts[1])
                        if text:
                            yield value.lineno, text


def extract(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Any,
) -> Iterator[tuple[Any, ...]]:
    """Babel's extraction method: Babel's Python messages, then the file's help texts."""
    yield from extract_python(fileobj, keywords, comment_tags, options)
    fileobj.seek(0)
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    for line, text in sorted(help_texts(source)):
        yield line, "_", text, []
    for line, kind, module in _named_modules(source):
        installed = _installed_source(module)
        if installed is None:
            continue
        if kind == "GETTEXT_MODULES":
            for _line, funcname, message, _c in extract_python(
                io.BytesIO(installed), keywords, comment_tags, {"encoding": "utf-8"}
            ):
                yield line, funcname, message, [module]
        else:
            for _line, text in sorted(help_texts(installed.decode("utf-8"))):
                yield line, "_", text, [module]


def _named_modules(source: str) -> Iterator[tuple[int, str, str]]:
    """``(line, tuple's name, module)`` of the ``GETTEXT_MODULES``/``HELP_MODULES`` tuples."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in _INSTALLED:
                    for element in node.value.elts:
                        module = _literal(element)
                        if module:
                            yield node.lineno, target.id, module


def _installed_source(module: str) -> bytes | None:
    """The source of an installed module (None: not installed, or not Python source)."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, "rb") as fh:
        return fh.read()
