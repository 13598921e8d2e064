"""Printing: Rich tables for people, ``--json`` for scripts, one clear line for errors.

Colour is Rich's decision: off when stdout is not a terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["console", "emit_json", "err", "make_table", "report_error", "say", "when"]

JSON_OPTION_HELP = "Print JSON (stable keys, no colour) instead of a table."


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def say(message: str) -> None:
    """A line for people on stdout (Rich markup allowed)."""
    console().print(message)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(data: Any) -> None:
    """The whole of stdout for ``--json``: sorted keys, no colour, a trailing newline."""
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [x.model_dump(mode="json") if hasattr(x, "model_dump") else x for x in data]
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=_default) + "\n")


def make_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for name in columns:
        justify = "right" if name.lower() in {"id", "price", "level", "value", "fired"} else "left"
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*("-" if v is None else str(v) for v in row))
    return table


def when(value: datetime | str | None) -> str:
    """A time for people: ``2026-11-24 14:00 UTC``."""
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed.strftime("%Y-%m-%d %H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M UTC")


def report_error(exc: BaseException, verbose: bool) -> int:
    """Print one clear line for ``exc`` on stderr (detail with ``-v``); return the exit code."""
    from tradealerts.cli.context import UsageProblem

    code = getattr(exc, "exit_code", None)
    ours = isinstance(exc, UsageProblem) or (isinstance(code, int) and hasattr(exc, "detail"))
    if ours:
        message = str(getattr(exc, "message", exc))
        detail = str(getattr(exc, "detail", ""))
    else:
        code = 1
        message = f"unexpected {type(exc).__name__}: {exc} (run with -v for details)"
        detail = "".join(traceback.format_exception(exc))
    sys.stderr.write(f"Error: {message}\n")
    if verbose and detail:
        sys.stderr.write(detail.rstrip() + "\n")
    return int(code) if isinstance(code, int) else 1
