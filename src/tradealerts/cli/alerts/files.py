"""An alerts file (TOML or YAML) read and checked as ``alerts apply`` checks it, for ``apply``
and ``apply --test`` alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradealerts.cli.context import UsageProblem
from tradealerts.client.lang import _


def load_checked(file: Path, fmt: str | None) -> list[Any]:
    """The file's entries, read and checked as ``apply`` checks them (``apply --test`` too):
    a problem is a ``UsageProblem`` naming each entry, before anything is sent."""
    from tradealerts.client import alertfile

    try:
        kind = alertfile.format_of(file, fmt)
        text = file.read_text(encoding="utf-8")
        entries = alertfile.loads(text, kind)
    except OSError as exc:
        raise UsageProblem(f"{file}: {exc.strerror or exc}.") from None
    except (alertfile.AlertFileError, UnicodeDecodeError) as exc:
        raise UsageProblem(f"{file}: {exc}.") from None
    problems = alertfile.check(entries)
    if problems:
        raise UsageProblem(problems_text(file, problems))
    return entries


def problems_text(file: Path, problems: list[Any], sent: bool = False) -> str:
    # the server's refusal already says "Nothing was changed"; only the local check stops
    # before anything is sent
    head = (
        _("{file}: {count} problem(s):")
        if sent
        else _("{file}: {count} problem(s); nothing was sent or changed:")
    )
    lines = [head.format(file=file, count=len(problems))]
    for index, name, field, message in problems:
        who = _("alert {number}").format(number=index + 1) + (f" ({name})" if name else "")
        lines.append(f"  {who}: {field + ': ' if field else ''}{message}")
    return "\n".join(lines)
