"""Alerts as code: an alerts file in TOML (default), YAML or JSON, and its checks.

A file is a list of named alert definitions under ``alert`` (TOML's ``[[alert]]``)::

    [[alert]]
    name = "eurusd-h1-resistance-break"
    symbol = "EURUSD"
    timeframe = "H1"
    condition = "line_break"
    side = "resistance"
    confirm_bars = 2

``export`` writes every field of each definition (never status or fire counts), so
``export`` then ``apply`` changes nothing. ``check`` validates every entry with the same rules
the server uses (``tradealerts.core.alerts``) before anything is sent. What it says of a file
is said in the user's language (the ``client`` catalog).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradealerts.client.lang import N_, _

__all__ = [
    "FORMATS",
    "NAME_RULE",
    "AlertFileError",
    "EntryProblem",
    "check",
    "dumps",
    "entry_of",
    "explain",
    "format_of",
    "loads",
    "unknown_condition",
]

FORMATS = ("toml", "yaml", "json")
_SUFFIXES = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}
#: Validation without the expiry's "in the future" check: the server knows which entries
#: are new or change their expiry, and checks those.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: (index, name or None, field or None, message): one entry that cannot be applied.
EntryProblem = tuple[int, str | None, str | None, str]


#: The rule of an alert's name (``NAME_PATTERN``) said for people, not as the regex.
NAME_RULE = N_("letters, digits and . _ - : (1-64, starting with a letter or digit)")


def unknown_condition(text: str) -> str:
    """Why ``text`` is not a condition, with "did you mean" for a typo."""
    import difflib

    from tradealerts.core.alerts.conditions import Condition

    key = str(text).strip().lower().replace("-", "_")
    names = [c.value for c in Condition]
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
    hint = " " + _("Did you mean {names}?").format(names=_either(close)) if close else ""
    return _("Unknown condition {text}.{hint} Conditions: {names}.").format(
        text=repr(text), hint=hint, names=", ".join(names)
    )


def _either(values: list[str]) -> str:
    """``a or b``; ``a, b or c``."""
    if len(values) < 2:
        return values[0]
    return _("{some} or {last}").format(some=", ".join(values[:-1]), last=values[-1])


def explain(error: Any, entry: Any) -> str:
    """One pydantic error of an alert definition (``entry``: the fields given) as a person
    reads it: the name's rule instead of its regex, "did you mean" for a mistyped
    condition, and for ``side`` the choices of the entry's own condition instead of every
    side any condition takes."""
    from tradealerts.core.alerts.conditions import SIDES, Condition, Side

    loc = error.get("loc") or ()
    field = str(loc[0]) if loc else ""
    kind = error.get("type")
    given = error.get("input")
    if field == "name" and kind == "string_pattern_mismatch":
        return _("{name} is not a name: use {rule}").format(name=repr(given), rule=_(NAME_RULE))
    if field == "condition" and kind == "enum":
        return unknown_condition(str(given))
    if field == "side" and kind in ("enum", "side_choice") and isinstance(entry, dict):
        try:
            condition = Condition(str(entry.get("condition", "")).strip().lower())
        except ValueError:
            condition = None
        allowed = SIDES.get(condition) if condition is not None else None
        if condition is not None and allowed:
            ordered = [s.value for s in Side if s in allowed]
            got = getattr(given, "value", given)  # side_choice: a Side, enum: the text
            return _("{condition} takes {choices}, got {got}").format(
                condition=condition.value, choices=_either(ordered), got=repr(got)
            )
    return str(error.get("msg", "")).removeprefix("Value error, ")


class AlertFileError(ValueError):
    """The file cannot be read as an alerts file (syntax, or not a list of tables)."""


def format_of(path: str | Path, given: str | None = None) -> str:
    """The format: ``given``, else by the file's suffix, else TOML."""
    if given:
        fmt = given.lower()
        if fmt not in FORMATS:
            raise AlertFileError(
                _("unknown format {format}; use toml, yaml or json").format(format=repr(given))
            )
        return fmt
    return _SUFFIXES.get(Path(path).suffix.lower(), "toml")


def entry_of(alert: Any) -> dict[str, Any]:
    """An alert (``AlertPublic``) as a file entry: its definition, no empty fields."""
    from tradealerts.core.alerts import AlertCreate

    data: dict[str, Any] = alert.model_dump(
        mode="json", include=set(AlertCreate.model_fields), exclude_none=True
    )
    channels = data.get("channels", {})
    data["channels"] = {k: v for k, v in channels.items() if v is not None}
    return {"name": data.pop("name"), **data}


def dumps(entries: list[dict[str, Any]], fmt: str = "toml") -> str:
    """The file's text."""
    doc = {"alert": entries}
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    import tomli_w

    return tomli_w.dumps(doc)


def loads(text: str, fmt: str) -> list[Any]:
    """The entries of a file (``alert`` list, or a bare list in YAML/JSON)."""
    try:
        if fmt == "json":
            doc: Any = json.loads(text)
        elif fmt == "yaml":
            import yaml

            doc = yaml.safe_load(text)
        else:
            import tomllib

            doc = tomllib.loads(text)
    except Exception as exc:  # each parser has its own error type: all mean "bad syntax"
        raise AlertFileError(
            _("not valid {format}: {error}").format(format=fmt.upper(), error=exc)
        ) from None
    if doc is None:
        return []
    entries = doc.get("alert", []) if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise AlertFileError(_("expected a list of alerts under 'alert' ([[alert]] in TOML)"))
    from tradealerts.core.alerts.plans import MAX_APPLY_ENTRIES

    if len(entries) > MAX_APPLY_ENTRIES:
        # said here in the file's words; the server's refusal spoke of "alerts: List should…"
        raise AlertFileError(
            _("{count} alerts: a file holds at most {most} (it is applied in one request)").format(
                count=len(entries), most=MAX_APPLY_ENTRIES
            )
        )
    return entries


def check(entries: list[Any]) -> list[EntryProblem]:
    """Every problem of every entry (empty when all can be sent)."""
    from pydantic import ValidationError

    from tradealerts.core.alerts import AlertCreate

    problems: list[EntryProblem] = []
    names: set[str] = set()
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict):
            problems.append((i, None, None, _("each entry must be a table of fields")))
            continue
        name = raw.get("name") if isinstance(raw.get("name"), str) else None
        try:
            AlertCreate.model_validate(raw, context={"now": _EPOCH})
        except ValidationError as exc:
            for e in exc.errors():
                field = ".".join(str(p) for p in e["loc"]) or None
                problems.append((i, name, field, explain(e, raw)))
            continue
        if name is None:
            problems.append((i, None, "name", _("is required: apply matches alerts by name")))
        elif name in names:
            problems.append((i, name, "name", _("appears twice in the file")))
        else:
            names.add(name)
    return problems
