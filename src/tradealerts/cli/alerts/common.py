"""What the ``alerts`` commands share, public within ``cli.alerts``: the group itself, the
options several commands take, the reading of times and conditions, and one alert said as a
sentence and a table. The command modules import from here, never from one another."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar

import typer

from tradealerts.cli.context import UsageProblem
from tradealerts.cli.lazy import LazyGroup
from tradealerts.cli.output import (
    JSON_OPTION_HELP,
    console,
    display_zone,
    emit_json,
    fits,
    make_table,
    say,
    stamp,
    when,
)
from tradealerts.client.lang import N_, _

_F = TypeVar("_F", bound=Callable[..., Any])


def with_options(placeholder: str, template: Callable[..., Any]) -> Callable[[_F], _F]:
    """Give a command the options of ``template`` in place of its parameter ``placeholder``,
    which receives their values as one dict: a group several commands take is declared once,
    and each command's --help lists the options where the placeholder stands."""
    group = list(inspect.signature(template, eval_str=True).parameters.values())
    names = [p.name for p in group]

    def decorate(func: _F) -> _F:
        sig = inspect.signature(func, eval_str=True)
        params = [
            q.replace(kind=p.kind) if p.name == placeholder else q
            for p in sig.parameters.values()
            for q in (group if p.name == placeholder else [p])
        ]

        @functools.wraps(func)
        def run(**kwargs: Any) -> Any:
            kwargs[placeholder] = {n: kwargs.pop(n) for n in names}
            return func(**kwargs)

        # typer reads the parameters from the signature, so it sees the group's options
        run.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return decorate


#: --help's order of the commands, whichever module defines each
ORDER = ("list", "show", "create", "update", "delete", "pause", "resume", "clone", "history",
         "export", "apply", "test")  # fmt: skip


class AlertsGroup(LazyGroup):
    #: ``alerts test`` lives in its own module, loaded only when it runs or shows its help
    lazy: ClassVar[dict[str, tuple[str, str]]] = {
        "test": ("tradealerts.cli.alerts.backtest:test_alert",
                 "When an alert would have fired: alerts test EURUSD H1 crossing_up 1.09 "
                 "--bars 2000"),
    }  # fmt: skip

    def list_commands(self, ctx: Any) -> list[str]:
        """The commands in ``ORDER`` (any other after them)."""
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


app = typer.Typer(
    cls=AlertsGroup,
    help="Price alerts: create, list, pause, resume, delete, clone, history, test, "
    "and alerts as code (export, apply).",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]
IdArg = Annotated[int, typer.Argument(min=1, help="The alert's id (see: tradealerts alerts list).")]

# The options of an alert's definition that ``alerts create`` and ``alerts test`` both take,
# said once (``test`` has its own words where it ignores one: nothing is stored or sent).
FrequencyOpt = Annotated[
    str, typer.Option(help="once, once_per_bar, once_per_bar_close, once_per_minute.")
]
SourceOpt = Annotated[str, typer.Option(help="Price source of ticks: bid or ask.")]
SideOpt = Annotated[str | None, typer.Option(help="up/down (fractals), support/resistance.")]
LineIdOpt = Annotated[str | None, typer.Option(help="Follow one line (see: indicators).")]
DistanceOpt = Annotated[
    float | None, typer.Option(help="line_touch, line_bounce: how close is a touch.")
]
BufferOpt = Annotated[
    float | None,
    typer.Option(help="line_break, trendline_break: the close must be beyond by more."),
]
ConfirmBarsOpt = Annotated[
    int | None,
    typer.Option(help="line_break, trendline_break: fire after N closes beyond."),
]
CooldownOpt = Annotated[
    str | None, typer.Option(help="At least this long between two fires: 30m, 2h, 1d.")
]
MaxFiresOpt = Annotated[int | None, typer.Option(help="Stop (triggered) after this many fires.")]


def shape_options(
    side: SideOpt = None,
    line_id: LineIdOpt = None,
    distance: DistanceOpt = None,
    buffer: BufferOpt = None,
    confirm_bars: ConfirmBarsOpt = None,
    cooldown: CooldownOpt = None,
    max_fires: MaxFiresOpt = None,
) -> None:
    """How a condition fires, beyond its values: ``create`` and ``test`` take these alike."""


def parse_expiry(text: str, now: datetime, option: str = "--expires") -> datetime:
    """``30m``, ``12h``, ``7d``, ``2w`` from now, or an ISO date/time (UTC when no zone).

    ``option`` names the flag the text came from, so the error points at what was typed.
    """
    return _when(text, now, option, "30m, 12h, 7d, 2w", ago=False)


def parse_ago(text: str, now: datetime, option: str) -> datetime:
    """``7d`` (that long ago), or an ISO date/time: the bounds of ``alerts history``."""
    return _when(text, now, option, _("7d for 7 days ago, 12h, 2w"), ago=True)


def _when(text: str, now: datetime, option: str, durations: str, *, ago: bool) -> datetime:
    from tradealerts.core.alerts.limits import parse_when  # the rule the TUI's form reads too

    when = parse_when(text, now, ago=ago)
    if when is None:
        raise UsageProblem(
            _(
                "{option}: {text} is not a duration ({durations}) or an ISO date "
                "(2026-12-31 or 2026-12-31T18:00Z)."
            ).format(option=option, text=repr(text), durations=durations)
        )
    return when


def parse_condition(text: str) -> Any:
    """The condition named ``text`` (any case); a typo gets "did you mean"."""
    from tradealerts.client.alertfile import unknown_condition
    from tradealerts.core.alerts.conditions import Condition

    try:
        return Condition(text.strip().lower().replace("-", "_"))
    except ValueError:
        raise UsageProblem(unknown_condition(text)) from None


def problem(exc: Any, data: Any = None) -> UsageProblem:
    """A pydantic ValidationError as one line naming the field, said as ``alerts apply``
    says it (``data``: the fields sent, for the condition's own choices of side)."""
    from tradealerts.client.alertfile import explain

    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "alert"
    return UsageProblem(f"{field}: {explain(first, data)}")


def value_pairs(a: Any) -> list[str]:
    """``level=1.09``, ``side=support`` …: the condition's values that are set."""
    from tradealerts.core.alerts.conditions import VALUE_FIELDS

    out = []
    for k in VALUE_FIELDS:
        v = getattr(a, k)
        if v is not None:
            out.append(f"{k}={v.value if hasattr(v, 'value') else v}")
    return out


def stacked(value: Any) -> str:
    """A time stacked for a narrow cell: the date, then the time and its zone (a long zone
    name on a line of its own, so that nothing is folded mid-word)."""
    zone = display_zone()
    return stamp(value, compact=True) + (f" {zone}" if len(zone) <= 5 else f"\n{zone}")


def fitted(
    title: str | None, wide: tuple[list[str], list[Any]], narrow: tuple[list[str], list[Any]]
) -> Any:
    """The wide table where it fits the terminal, else the narrow one (same facts)."""
    table = make_table(title, *wide)
    return table if fits(table) else make_table(title, *narrow)


def _line(a: Any) -> tuple[Any, ...]:
    return (
        a.id,
        f"{a.symbol} {a.timeframe}",
        a.condition.value,
        " ".join(value_pairs(a)),
        a.frequency.value,
        a.status.value,
        when(a.expires_at),
        a.fire_count,
    )


def _compact_line(a: Any) -> tuple[Any, ...]:
    """The same facts in five columns, stacked in their cells, for an 80-column terminal:
    every value whole on a line of its own (a long line id folds; nothing is cut)."""
    expires = "-" if a.expires_at is None else stacked(a.expires_at)
    return (
        a.id,
        f"{a.symbol}\n{a.timeframe}",
        "\n".join([a.condition.value, *value_pairs(a)]),
        f"{a.status.value}\n{a.frequency.value}\n" + _("fired {count}").format(count=a.fire_count),
        expires,
    )


_COLUMNS = [N_("Id"), N_("Pair"), N_("Condition"), N_("Values"), N_("Frequency"), N_("Status"),
            N_("Expires"), N_("Fired")]  # fmt: skip
_COMPACT_COLUMNS = [N_("Id"), N_("Pair"), N_("Condition"), N_("Status"), N_("Expires")]


def alerts_table(title: str | None, alerts: list[Any]) -> Any:
    """Alerts one a row: the wide table, or the stacked one on a narrow terminal."""
    return fitted(
        title,
        (_COLUMNS, [_line(a) for a in alerts]),
        (_COMPACT_COLUMNS, [_compact_line(a) for a in alerts]),
    )


#: what a command did to one alert, whole sentences (a verb alone does not translate)
_SAID = {
    "created": N_("Alert {id} created: {what}."),
    "updated": N_("Alert {id} updated: {what}."),
    "paused": N_("Alert {id} paused: {what}."),
    "resumed": N_("Alert {id} resumed: {what}."),
}


def show_done(a: Any, json_out: bool, verb: str) -> None:
    """The alert a command made or changed: ``--json``, or a sentence and its row."""
    if json_out:
        emit_json(a)
        return
    what = f"{a.symbol} {a.timeframe} {a.condition.value} ({a.status.value})"
    say(_(_SAID[verb]).format(id=a.id, what=what))
    console().print(alerts_table(None, [a]))
