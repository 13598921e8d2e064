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

__all__ = [
    "clock_at",
    "console",
    "display_zone",
    "emit_json",
    "err",
    "fetch",
    "fits",
    "key_values",
    "make_table",
    "preferred_zone",
    "report_error",
    "say",
    "stamp",
    "when",
]

JSON_OPTION_HELP = "Print JSON (stable keys, no colour) instead of a table."
#: the columns shown right-aligned (numbers), by their English names (``make_table``)
_NUMERIC = frozenset({"id", "price", "level", "value", "fired"})


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


#: a word longer than this may fold (a URL, a line id): keeping it whole would squeeze the
#: other columns of an 80-column terminal below their own words
WHOLE_WORD = 20


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for w in text.split()), default=0)


def make_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A table whose cells are never cut: a value wider than its column wraps onto the next
    line (Rich's default, an ellipsis, hid the very values people read: ``crossin…``), at a
    space, never inside a word or a date: each column is at least as wide as its longest word
    (up to ``WHOLE_WORD`` cells), as the header's, so ``greater_than`` and ``2026-12-06`` stay
    whole in 80 columns (issue #24: ``greater_th`` / ``an``, ``2026-12-0`` / ``6 20:03``).

    ``columns``: the English names (marked ``N_``), shown in the person's language; ``title``
    comes translated."""
    from rich.table import Table

    from tradealerts.client.lang import _

    cells = [["-" if v is None else str(v) for v in row] for row in rows]
    table = Table(title=title)
    for i, english in enumerate(columns):
        justify = "right" if english.lower() in _NUMERIC else "left"
        name = _(english) if english else english
        words = [_longest_word(name)] + [_longest_word(r[i]) for r in cells if i < len(r)]
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            overflow="fold",
            min_width=min(max(words), WHOLE_WORD) or None,
        )
    for row in cells:
        table.add_row(*row)
    return table


def key_values(rows: Iterable[tuple[str, Any]]) -> Table:
    """Two columns, no header: a name (English, marked ``N_``: shown translated) and its
    value (folded, never cut)."""
    from rich.table import Table

    from tradealerts.client.lang import _

    table = Table(show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(_(key), "-" if value is None else str(value))
    return table


def fits(table: Table) -> bool:
    """Whether ``table`` at its natural width fits the terminal, no column squeezed."""
    from rich.measure import Measurement

    out = console()
    natural = Measurement.get(out, out.options.update_width(10_000), table)
    return natural.maximum <= out.width


def display_zone() -> str:
    """The zone people see times in: the user's ``timezone`` setting (asked of the server
    once per command, an account call that the quota does not count), ``UTC`` with ``--utc``
    or when the setting cannot be had (not logged in, no answer, a name this machine lacks)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from tradealerts.cli.context import STATE

    if STATE.utc:
        return "UTC"
    zone = preferred_zone() or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = "UTC"
    STATE.zone = zone
    return zone


def _moment(value: datetime | str | float) -> datetime | None:
    from datetime import UTC

    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    # a naive time on the wire is UTC (DESIGN: every time on the wire is UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def stamp(value: datetime | str | float | None, compact: bool = False) -> str:
    """A time for a table cell whose header names the zone (``display_zone()``):
    ``2026-11-24 14:00``, or on two lines (``compact``, for narrow terminals: the date and
    the time are never split elsewhere). ``value``: a datetime, ISO text or epoch seconds."""
    from zoneinfo import ZoneInfo

    if value is None:
        return "-"
    moment = _moment(value)
    if moment is None:
        return str(value)
    local = moment.astimezone(ZoneInfo(display_zone()))
    from tradealerts.client.lang import format_date, language

    # English keeps ISO dates (2026-11-24); another language its own short date (24.11.26,
    # 2026/11/24): one word either way, so a date is never split across lines
    day = local.strftime("%Y-%m-%d") if language() == "en" else format_date(local)
    return f"{day}\n{local:%H:%M}" if compact else f"{day} {local:%H:%M}"


def when(value: datetime | str | None) -> str:
    """A time for people, in their zone: ``2026-11-24 15:00 Europe/Paris``."""
    if value is None:
        return "-"
    if _moment(value) is None:
        return str(value)
    return f"{stamp(value)} {display_zone()}"


def clock_at(moment: datetime, zone: str | None) -> str:
    """``15:42 Europe/Paris``: ``moment`` on the wall clock of ``zone`` (an IANA name, the
    user's timezone preference; None or unknown: this machine's zone), with the date when it
    is not today there."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from tradealerts.client.lang import _, format_date, language

    try:
        local = moment.astimezone(ZoneInfo(zone)) if zone else moment.astimezone()
        label = zone or local.tzname() or _("local time")
    except (ZoneInfoNotFoundError, ValueError):
        local = moment.astimezone()
        label = local.tzname() or _("local time")
    now = datetime.now(local.tzinfo)
    iso = local.strftime("%Y-%m-%d") if language() == "en" else format_date(local)
    day = "" if local.date() == now.date() else f"{iso} "
    return f"{day}{local:%H:%M} {label}"


def preferred_zone(client: Any = None) -> str | None:
    """The user's timezone preference from the server (an account call: not counted against
    the quota; asked once per command), ``UTC`` with ``--utc``, or None (this machine's zone)
    when it cannot be had: not logged in, no answer. ``client``: an open one to ask with;
    otherwise one is opened for the question."""
    from tradealerts.cli.context import STATE, open_client

    if STATE.utc:
        return "UTC"
    if STATE.zone is not None:
        return STATE.zone
    try:
        if client is not None:
            STATE.zone = str(client.run(_preferences()).timezone)
        else:
            with open_client() as c:
                STATE.zone = str(c.run(_preferences()).timezone)
    except Exception:  # the wall clock is a courtesy: never the reason a command fails
        return None
    return STATE.zone


def _preferences() -> Any:
    from tradealerts.client import endpoints

    return endpoints.preferences()


def _rate_limit_clock(exc: BaseException) -> None:
    """Add the moment a rate limit frees, as a clock time in the user's zone, to a 429's
    message: "try again in 3397 s" alone makes a person do arithmetic."""
    from datetime import UTC, timedelta

    retry = getattr(exc, "retry_after", None)
    if getattr(exc, "status", None) != 429 or not isinstance(retry, int):
        return
    from tradealerts.client.lang import _

    at = clock_at(datetime.now(UTC) + timedelta(seconds=retry), preferred_zone())
    exc.message = f"{exc.message} " + _("It frees at {time}.").format(time=at)  # type: ignore[attr-defined]


def report_error(exc: BaseException, verbose: bool) -> int:
    """Print one clear line for ``exc`` on stderr (detail with ``-v``); return the exit code."""
    from tradealerts.cli.context import UsageProblem
    from tradealerts.client.lang import _

    code = getattr(exc, "exit_code", None)
    ours = isinstance(exc, UsageProblem) or (isinstance(code, int) and hasattr(exc, "detail"))
    if ours:
        _rate_limit_clock(exc)
        message = str(getattr(exc, "message", exc))
        detail = str(getattr(exc, "detail", ""))
    else:
        code = 1
        message = _("unexpected {error}: {detail} (run with -v for details)").format(
            error=type(exc).__name__, detail=exc
        )
        detail = "".join(traceback.format_exception(exc))
    sys.stderr.write(_("Error: {message}").format(message=message) + "\n")
    if verbose and detail:
        sys.stderr.write(detail.rstrip() + "\n")
    return int(code) if isinstance(code, int) else 1


def fetch(call: Any, json_out: bool) -> Any:
    """The answer to one request; with ``--json`` it is printed as the command's whole output
    and None comes back (the command has nothing left to show)."""
    from tradealerts.cli.context import open_client

    with open_client() as c:
        answer = c.run(call)
    if json_out:
        emit_json(answer)
        return None
    return answer
