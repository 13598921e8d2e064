"""alerts list|show|create|update|delete|pause|resume|history|clone|export|apply (and test:
``cli.alerts_backtest``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer

from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.lazy import LazyGroup
from tradealerts.cli.negatives import NegativeNumbers
from tradealerts.cli.output import (
    JSON_OPTION_HELP,
    console,
    display_zone,
    emit_json,
    fits,
    key_values,
    make_table,
    say,
    stamp,
    when,
)
from tradealerts.client.lang import N_, _, ngettext


class _Alerts(LazyGroup):
    #: ``alerts test`` lives in its own module, loaded only when it runs or shows its help
    lazy: ClassVar[dict[str, tuple[str, str]]] = {
        "test": ("tradealerts.cli.alerts_backtest:test_alert",
                 "When an alert would have fired: alerts test EURUSD H1 crossing_up 1.09 "
                 "--bars 2000"),
    }  # fmt: skip

    def list_commands(self, ctx: Any) -> list[str]:
        """The commands defined here first, then the lazy ones (--help's order)."""
        names = super().list_commands(ctx)
        return [n for n in names if n not in self.lazy] + [n for n in names if n in self.lazy]


app = typer.Typer(
    cls=_Alerts,
    help="Price alerts: create, list, pause, resume, delete, clone, history, test, "
    "and alerts as code (export, apply).",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]
IdArg = Annotated[int, typer.Argument(min=1, help="The alert's id (see: tradealerts alerts list).")]
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(text: str, now: datetime, option: str = "--expires") -> datetime:
    """``30m``, ``12h``, ``7d``, ``2w`` from now, or an ISO date/time (UTC when no zone).

    ``option`` names the flag the text came from, so the error points at what was typed.
    """
    value = text.strip().lower()
    m = _DURATION.match(value)
    if m:
        return now + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    return _iso_time(text, option, "30m, 12h, 7d, 2w")


def _iso_time(text: str, option: str, durations: str) -> datetime:
    try:
        when_ = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageProblem(
            _(
                "{option}: {text} is not a duration ({durations}) or an ISO date "
                "(2026-12-31 or 2026-12-31T18:00Z)."
            ).format(option=option, text=repr(text), durations=durations)
        ) from None
    return when_ if when_.tzinfo else when_.replace(tzinfo=UTC)


def parse_ago(text: str, now: datetime, option: str) -> datetime:
    """``7d`` (that long ago), or an ISO date/time: the bounds of ``alerts history``."""
    m = _DURATION.match(text.strip().lower())
    if m:
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    return _iso_time(text, option, _("7d for 7 days ago, 12h, 2w"))


def parse_condition(text: str) -> Any:
    """The condition named ``text`` (any case); a typo gets "did you mean"."""
    from tradealerts.client.alertfile import unknown_condition
    from tradealerts.core.alerts.conditions import Condition

    try:
        return Condition(text.strip().lower().replace("-", "_"))
    except ValueError:
        raise UsageProblem(unknown_condition(text)) from None


def _problem(exc: Any, data: Any = None) -> UsageProblem:
    """A pydantic ValidationError as one line naming the field, said as ``alerts apply``
    says it (``data``: the fields sent, for the condition's own choices of side)."""
    from tradealerts.client.alertfile import explain

    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "alert"
    return UsageProblem(f"{field}: {explain(first, data)}")


def _values(condition: Any, values: list[str]) -> dict[str, Any]:
    from tradealerts.core.alerts.conditions import OPTIONAL_VALUES, REQUIRED_VALUES

    names = REQUIRED_VALUES[condition] + OPTIONAL_VALUES[condition]
    if len(values) > len(names):
        takes = " ".join(n.upper() for n in names) or _("no values")
        raise UsageProblem(
            _("{condition} takes {takes}; got {count} values: {values}.").format(
                condition=condition.value, takes=takes, count=len(values), values=" ".join(values)
            )
        )
    out: dict[str, Any] = {}
    for name, text in zip(names, values, strict=False):
        out[name] = _number(name, text) if name in _NUMBERS else text
    return out


_NUMBERS = {"level": float, "lower": float, "upper": float, "amount": float,
            "distance": float, "bars": int, "buffer": float, "confirm_bars": int}  # fmt: skip


def _number(name: str, text: str) -> float | int:
    try:
        value: float | int = _NUMBERS[name](text)
    except ValueError:
        if _NUMBERS[name] is int:
            said = _("{name}: expected a whole number, got {text}.")
        else:
            said = _("{name}: expected a number, got {text}.")
        raise UsageProblem(said.format(name=name.upper(), text=repr(text))) from None
    return value


def _value_pairs(a: Any) -> list[str]:
    """``level=1.09``, ``side=support`` …: the condition's values that are set."""
    from tradealerts.core.alerts.conditions import VALUE_FIELDS

    out = []
    for k in VALUE_FIELDS:
        v = getattr(a, k)
        if v is not None:
            out.append(f"{k}={v.value if hasattr(v, 'value') else v}")
    return out


def _line(a: Any) -> tuple[Any, ...]:
    return (
        a.id,
        f"{a.symbol} {a.timeframe}",
        a.condition.value,
        " ".join(_value_pairs(a)),
        a.frequency.value,
        a.status.value,
        when(a.expires_at),
        a.fire_count,
    )


def _stacked(value: Any) -> str:
    """A time stacked for a narrow cell: the date, then the time and its zone (a long zone
    name on a line of its own, so that nothing is folded mid-word)."""
    zone = display_zone()
    return stamp(value, compact=True) + (f" {zone}" if len(zone) <= 5 else f"\n{zone}")


def _compact_line(a: Any) -> tuple[Any, ...]:
    """The same facts in five columns, stacked in their cells, for an 80-column terminal:
    every value whole on a line of its own (a long line id folds; nothing is cut)."""
    expires = "-" if a.expires_at is None else _stacked(a.expires_at)
    return (
        a.id,
        f"{a.symbol}\n{a.timeframe}",
        "\n".join([a.condition.value, *_value_pairs(a)]),
        f"{a.status.value}\n{a.frequency.value}\n" + _("fired {count}").format(count=a.fire_count),
        expires,
    )


_COLUMNS = [N_("Id"), N_("Pair"), N_("Condition"), N_("Values"), N_("Frequency"), N_("Status"),
            N_("Expires"), N_("Fired")]  # fmt: skip
_COMPACT_COLUMNS = [N_("Id"), N_("Pair"), N_("Condition"), N_("Status"), N_("Expires")]
_HEALTH_COLUMNS = [N_("Id"), N_("Name"), N_("Pair"), N_("Status"), "24 h", "7 d", "30 d",
                   N_("Last fire"), N_("Health")]  # fmt: skip
_COMPACT_HEALTH_COLUMNS = [N_("Id"), N_("Alert"), N_("Fires\n24h/7d/30d"), N_("Last fire"),
                           N_("Health")]  # fmt: skip


def _flags(h: Any) -> str:
    return " ".join(f for f, on in (("dormant", h.dormant), ("chatty", h.chatty)) if on) or "ok"


def _health_line(a: Any) -> tuple[Any, ...]:
    h = a.health
    if h is None:
        return (a.id, a.name, f"{a.symbol} {a.timeframe}", a.status.value, "", "", "", "", "")
    return (
        a.id,
        a.name,
        f"{a.symbol} {a.timeframe}",
        a.status.value,
        h.fires_24h,
        h.fires_7d,
        h.fires_30d,
        when(h.last_fired_at),
        _flags(h),
    )


def _compact_health_line(a: Any) -> tuple[Any, ...]:
    h = a.health
    alert = f"{a.name}\n{a.symbol} {a.timeframe} · {a.status.value}"
    if h is None:
        return (a.id, alert, "", "", "")
    last = "-" if h.last_fired_at is None else _stacked(h.last_fired_at)
    fires = f"{h.fires_24h}/{h.fires_7d}/{h.fires_30d}"
    return (a.id, alert, fires, last, _flags(h).replace(" ", "\n"))


def _fitted(
    title: str | None, wide: tuple[list[str], list[Any]], narrow: tuple[list[str], list[Any]]
) -> Any:
    """The wide table where it fits the terminal, else the narrow one (same facts)."""
    table = make_table(title, *wide)
    return table if fits(table) else make_table(title, *narrow)


def _alerts_table(title: str | None, alerts: list[Any]) -> Any:
    return _fitted(
        title,
        (_COLUMNS, [_line(a) for a in alerts]),
        (_COMPACT_COLUMNS, [_compact_line(a) for a in alerts]),
    )


def _duration(seconds: int | None) -> str:
    if not seconds:
        return "none"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _full(a: Any) -> list[tuple[str, Any]]:
    """Every field of an alert, as name and value, for ``alerts show``."""
    ch = a.channels
    rows: list[tuple[str, Any]] = [
        (N_("Id"), a.id),
        (N_("Name"), a.name),
        (N_("Pair"), f"{a.symbol} {a.timeframe}"),
        (N_("Condition"), a.condition.value),
    ]
    rows += [(pair.split("=", 1)[0].replace("_", " ").capitalize(), pair.split("=", 1)[1])
             for pair in _value_pairs(a)]  # fmt: skip
    reason = a.status_reason if a.status_reason not in (None, a.status.value) else None
    status = a.status.value + (f" ({reason})" if reason else "")
    no, yes, never = _("no"), _("yes"), _("never")
    webhook = f"{ch.webhook_url} ({ch.webhook_format.value})" if ch.webhook_url else no
    rows += [
        (N_("Status"), status),
        (N_("Frequency"), a.frequency.value),
        (N_("Cooldown"), _duration(a.cooldown)),
        (N_("Max fires"), a.max_fires if a.max_fires is not None else _("no limit")),
        (N_("Price source"), a.price_source.value),
        (N_("Expires"), when(a.expires_at) if a.expires_at else never),
        (N_("Message"), a.message if a.message else _("(the default)")),
        (N_("Email"), yes if ch.email else no),
        (N_("Webhook"), webhook),
        (N_("Push"), ", ".join(ch.notify) if ch.notify else no),
        (N_("Created"), when(a.created_at)),
        (
            N_("Fired"),
            ngettext("{count} time", "{count} times", a.fire_count).format(count=a.fire_count),
        ),
        (N_("Last fired"), when(a.last_fired_at) if a.last_fired_at else never),
    ]
    h = a.health
    if h is not None:
        rows.append(
            (N_("Health"), f"{_flags(h)} · " + _("fires 24 h {day}, 7 d {week}, 30 d {month}")
                .format(day=h.fires_24h, week=h.fires_7d, month=h.fires_30d))
        )  # fmt: skip
    return rows


#: what a command did to one alert, whole sentences (a verb alone does not translate)
_SAID = {
    "created": N_("Alert {id} created: {what}."),
    "updated": N_("Alert {id} updated: {what}."),
    "paused": N_("Alert {id} paused: {what}."),
    "resumed": N_("Alert {id} resumed: {what}."),
}


def _show(a: Any, json_out: bool, verb: str) -> None:
    if json_out:
        emit_json(a)
        return
    what = f"{a.symbol} {a.timeframe} {a.condition.value} ({a.status.value})"
    say(_(_SAID[verb]).format(id=a.id, what=what))
    console().print(_alerts_table(None, [a]))


@app.command("list")
def list_alerts(
    status: Annotated[
        str | None, typer.Option(help="active, paused, triggered or expired.")
    ] = None,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    health: Annotated[
        bool,
        typer.Option(
            "--health",
            help="Fires in the last 24 h / 7 d / 30 d, the last fire, dormant / chatty.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Your alerts, with how many are active out of your tier's limit."""
    from tradealerts.client import endpoints
    from tradealerts.core.alerts.conditions import AlertStatus

    if status is not None and status.lower() not in {s.value for s in AlertStatus}:
        raise UsageProblem(f"--status: use one of {', '.join(s.value for s in AlertStatus)}.")
    sym = symbol.strip().upper() if symbol else None
    with open_client() as c:
        page = c.run(endpoints.alerts(status.lower() if status else None, sym))
    if json_out:
        emit_json(page)
        return
    title = _("Alerts · {active} of {limit} active").format(active=page.active, limit=page.limit)
    if health:
        table = _fitted(
            title,
            (_HEALTH_COLUMNS, [_health_line(a) for a in page.items]),
            (_COMPACT_HEALTH_COLUMNS, [_compact_health_line(a) for a in page.items]),
        )
        console().print(table)
        return
    console().print(_alerts_table(title, page.items))


@app.command("show", cls=NegativeNumbers)
def show(alert_id: IdArg, json_out: JsonOpt = False) -> None:
    """One alert in full: every field, one a line."""
    from tradealerts.client import endpoints

    with open_client() as c:
        a = c.run(endpoints.alert(alert_id))
    if json_out:
        emit_json(a)
        return
    console().print(key_values(_full(a)))


NotifyOpt = Annotated[
    str | None,
    typer.Option(
        "--notify",
        help="Also push to these channels of yours, comma-separated: phone,team "
        '(see: tradealerts channels list); "" for none.',
    ),
]


def notify_names(value: str) -> list[str]:
    """``phone,team`` as the list of names an alert's ``channels.notify`` takes."""
    return [n.strip().lower() for n in value.split(",") if n.strip()]


def build_alert(
    symbol: str,
    timeframe: str,
    condition: str,
    values: list[str] | None,
    options: dict[str, Any],
    *,
    frequency: str = "once",
    expires: str | None = None,
    message: str | None = None,
    source: str = "bid",
    email: bool = False,
    webhook: str | None = None,
    webhook_format: str | None = None,
    notify: str | None = None,
    verb: str = "create",
) -> Any:
    """The checked ``AlertCreate`` of ``alerts create``'s arguments (``alerts test`` takes the
    same ones): a typo is a ``UsageProblem`` naming the field, before anything is sent.
    ``verb``: the command the "needs LEVEL" hint shows."""
    from pydantic import ValidationError

    from tradealerts.cli.market import pair
    from tradealerts.core.alerts.conditions import REQUIRED_VALUES
    from tradealerts.core.alerts.schemas import validate_alert

    sym, tf = pair(symbol, timeframe)
    cond = parse_condition(condition)
    now = datetime.now(UTC)
    data: dict[str, Any] = {"symbol": sym, "timeframe": tf, "condition": cond.value}
    data.update(_values(cond, values or []))
    for key, value in options.items():
        if value is not None:
            data[key] = value
    needs = REQUIRED_VALUES[cond]
    if any(name not in data for name in needs):
        shape = " ".join(n.upper() for n in needs)
        raise UsageProblem(
            f"{cond.value} needs {shape}: tradealerts alerts {verb} {sym} {tf} {cond.value} {shape}"
        )
    data.update(frequency=frequency, price_source=source)
    if expires:
        data["expires_at"] = parse_expiry(expires, now)
    if message is not None:
        data["message"] = message
    data["channels"] = {"email": email, "webhook_url": webhook}
    if webhook_format is not None:
        if webhook is None:  # stored, it would shape nothing: say so rather than keep it
            raise UsageProblem(
                "--webhook-format shapes a webhook's body: give the webhook too, "
                f"e.g. --webhook https://example.com/hook --webhook-format {webhook_format}"
            )
        data["channels"]["webhook_format"] = webhook_format
    if notify is not None:
        data["channels"]["notify"] = notify_names(notify)
    try:  # the server checks again; this catches typos before anything is sent
        return validate_alert(data, now=now, allow_insecure_loopback=True)
    except ValidationError as exc:
        raise _problem(exc, data) from None


@app.command("create", cls=NegativeNumbers)
def create(
    symbol: Annotated[str, typer.Argument(help="EURUSD, xauusd … (any case).")],
    timeframe: Annotated[str, typer.Argument(help="M5 … D1 (any case).")],
    condition: Annotated[
        str, typer.Argument(help="crossing_up, entering_channel, moving_up, new_fractal …")
    ],
    values: Annotated[
        list[str] | None,
        typer.Argument(
            help="The condition's values in order: LEVEL; LOWER UPPER; AMOUNT BARS; "
            "DISTANCE; then SIDE and LINE_ID where they apply."
        ),
    ] = None,
    frequency: Annotated[
        str, typer.Option(help="once, once_per_bar, once_per_bar_close, once_per_minute.")
    ] = "once",
    expires: Annotated[
        str | None, typer.Option(help="30m, 12h, 7d, 2w, or an ISO date/time.")
    ] = None,
    message: Annotated[
        str | None, typer.Option(help="Your text; {{symbol}} {{price}} {{level}} … fill in.")
    ] = None,
    source: Annotated[str, typer.Option(help="Price source of ticks: bid or ask.")] = "bid",
    email: Annotated[bool, typer.Option("--email", help="Also mail me when it fires.")] = False,
    webhook: Annotated[
        str | None, typer.Option(help="Also POST to this https URL when it fires.")
    ] = None,
    side: Annotated[
        str | None, typer.Option(help="up/down (fractals), support/resistance.")
    ] = None,
    line_id: Annotated[str | None, typer.Option(help="Follow one line (see: indicators).")] = None,
    distance: Annotated[
        float | None, typer.Option(help="line_touch, line_bounce: how close is a touch.")
    ] = None,
    buffer: Annotated[
        float | None,
        typer.Option(help="line_break, trendline_break: the close must be beyond by more."),
    ] = None,
    confirm_bars: Annotated[
        int | None,
        typer.Option(help="line_break, trendline_break: fire after N closes beyond."),
    ] = None,
    cooldown: Annotated[
        str | None, typer.Option(help="At least this long between two fires: 30m, 2h, 1d.")
    ] = None,
    max_fires: Annotated[
        int | None, typer.Option(help="Stop (triggered) after this many fires.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="A name unique among your alerts (default: made up).")
    ] = None,
    webhook_format: Annotated[
        str | None, typer.Option(help="The webhook body: json, discord, slack or telegram.")
    ] = None,
    notify: NotifyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an alert, e.g.: alerts create EURUSD H1 crossing_up 1.09 --expires 7d --email"""
    from tradealerts.client import endpoints

    alert = build_alert(
        symbol, timeframe, condition, values,
        {"side": side, "line_id": line_id, "distance": distance, "buffer": buffer,
         "confirm_bars": confirm_bars, "cooldown": cooldown, "max_fires": max_fires,
         "name": name},
        frequency=frequency, expires=expires, message=message, source=source, email=email,
        webhook=webhook, webhook_format=webhook_format, notify=notify,
    )  # fmt: skip
    with open_client() as c:
        _show(c.run(endpoints.alert_create(alert)), json_out, "created")


@app.command("update", cls=NegativeNumbers)
def update(
    alert_id: IdArg,
    level: Annotated[float | None, typer.Option()] = None,
    lower: Annotated[float | None, typer.Option()] = None,
    upper: Annotated[float | None, typer.Option()] = None,
    amount: Annotated[float | None, typer.Option()] = None,
    bars: Annotated[int | None, typer.Option()] = None,
    condition: Annotated[str | None, typer.Option(help="A new condition.")] = None,
    frequency: Annotated[str | None, typer.Option()] = None,
    expires: Annotated[str | None, typer.Option(help="30m, 7d, or an ISO date/time.")] = None,
    message: Annotated[str | None, typer.Option()] = None,
    source: Annotated[str | None, typer.Option(help="bid or ask.")] = None,
    side: Annotated[str | None, typer.Option()] = None,
    line_id: Annotated[str | None, typer.Option()] = None,
    distance: Annotated[float | None, typer.Option()] = None,
    buffer: Annotated[float | None, typer.Option()] = None,
    confirm_bars: Annotated[int | None, typer.Option()] = None,
    cooldown: Annotated[str | None, typer.Option(help="30m, 2h, 1d or seconds.")] = None,
    max_fires: Annotated[int | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option(help="A new name (unique among yours).")] = None,
    notify: NotifyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change an alert: only the options you give change."""
    from pydantic import ValidationError

    from tradealerts.client import endpoints
    from tradealerts.core.alerts.schemas import AlertUpdate

    now = datetime.now(UTC)
    patch: dict[str, Any] = {
        k: v
        for k, v in {
            "level": level, "lower": lower, "upper": upper, "amount": amount, "bars": bars,
            "frequency": frequency, "message": message, "price_source": source, "side": side,
            "line_id": line_id, "distance": distance, "buffer": buffer,
            "confirm_bars": confirm_bars, "cooldown": cooldown, "max_fires": max_fires,
            "name": name,
        }.items()
        if v is not None
    }  # fmt: skip
    if condition is not None:
        patch["condition"] = parse_condition(condition).value
    if expires is not None:
        patch["expires_at"] = parse_expiry(expires, now)
    if not patch and notify is None:
        raise UsageProblem(_("Nothing to change: give at least one option (see --help)."))
    with open_client() as c:
        if notify is not None:  # the other channels as they are: the channels go as a whole
            current = c.run(endpoints.alert(alert_id)).channels
            patch["channels"] = {**current.model_dump(mode="json"), "notify": notify_names(notify)}
        try:
            change = AlertUpdate.model_validate(patch, context={"now": now})
        except ValidationError as exc:
            raise _problem(exc) from None
        _show(c.run(endpoints.alert_update(alert_id, change)), json_out, "updated")


FilterSymbol = Annotated[str | None, typer.Option("--symbol", help="Every alert on this symbol.")]
FilterTf = Annotated[str | None, typer.Option("--timeframe", help="… on this timeframe.")]
FilterStatus = Annotated[
    str | None, typer.Option("--status", help="… with this status (active, paused …).")
]
FilterCond = Annotated[str | None, typer.Option("--condition", help="… with this condition.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every one of your alerts.")]
OptionalId = Annotated[
    int | None, typer.Argument(min=1, help="The alert's id; or filter with the options.")
]


@app.command("delete", cls=NegativeNumbers)
def delete(
    alert_id: OptionalId = None,
    symbol: FilterSymbol = None,
    timeframe: FilterTf = None,
    status: FilterStatus = None,
    condition: FilterCond = None,
    everything: AllOpt = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Delete by filter without asking (needed in scripts)."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete an alert, or every alert matching the filter at once (their history stays).

    By filter or --all it asks first (Delete N alerts? [y/N]); without a terminal to ask on
    it needs --yes.
    """
    from tradealerts.cli.alerts_code import bulk, bulk_said

    result = bulk("delete", alert_id, symbol, timeframe, status, condition, everything, yes)
    if alert_id is not None:
        say(_("Alert {id} deleted.").format(id=alert_id))
        return
    bulk_said(result, "deleted", json_out)


@app.command("pause", cls=NegativeNumbers)
def pause(
    alert_id: OptionalId = None,
    symbol: FilterSymbol = None,
    timeframe: FilterTf = None,
    status: FilterStatus = None,
    condition: FilterCond = None,
    everything: AllOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Stop an alert (or every alert matching the filter) from firing until resumed."""
    from tradealerts.cli.alerts_code import bulk, bulk_said

    result = bulk("pause", alert_id, symbol, timeframe, status, condition, everything)
    if alert_id is not None:
        _show(result, json_out, "paused")
        return
    bulk_said(result, "paused", json_out)


@app.command("resume", cls=NegativeNumbers)
def resume(
    alert_id: OptionalId = None,
    symbol: FilterSymbol = None,
    timeframe: FilterTf = None,
    status: FilterStatus = None,
    condition: FilterCond = None,
    everything: AllOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Make a paused alert (or every one matching the filter) active again."""
    from tradealerts.cli.alerts_code import bulk, bulk_said

    result = bulk("resume", alert_id, symbol, timeframe, status, condition, everything)
    if alert_id is not None:
        _show(result, json_out, "resumed")
        return
    bulk_said(result, "resumed", json_out)


@app.command("clone", cls=NegativeNumbers)
def clone(
    alert_id: IdArg,
    symbol: Annotated[str | None, typer.Option(help="The copy's symbol.")] = None,
    timeframe: Annotated[str | None, typer.Option(help="The copy's timeframe.")] = None,
    name: Annotated[str | None, typer.Option(help="The copy's name (default: made up).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy an alert (onto another symbol, say): alerts clone 12 --symbol GBPUSD"""
    from pydantic import ValidationError

    from tradealerts.client import endpoints
    from tradealerts.core.alerts.plans import AlertClone

    data = {"symbol": symbol, "timeframe": timeframe, "name": name}
    try:
        change = AlertClone.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise _problem(exc) from None
    with open_client() as c:
        _show(c.run(endpoints.alert_clone(alert_id, change)), json_out, "created")


@app.command("history")
def history(
    alert: Annotated[int | None, typer.Option("--alert", help="Only this alert id.")] = None,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    since: Annotated[str | None, typer.Option(help="From: 7d ago as 7d, or an ISO date.")] = None,
    until: Annotated[
        str | None, typer.Option(help="Until: an ISO date, or 1d for 1 day ago.")
    ] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=200)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Alerts that fired, newest first, with how each delivery went."""
    from tradealerts.client import endpoints

    now = datetime.now(UTC)
    # both bounds are checked before anything is sent, each error naming its own option
    start = parse_ago(since, now, "--since").isoformat() if since is not None else None
    end = parse_ago(until, now, "--until").isoformat() if until is not None else None
    sym = symbol.strip().upper() if symbol else None
    with open_client() as c:
        data = c.run(endpoints.alert_history(alert, sym, start, end, page, per_page))
    if json_out:
        emit_json(data)
        return
    rows, compact = [], []
    for h in data.items:
        sent = ", ".join(f"{d.channel}:{d.status}" for d in h.deliveries) or "-"
        rows.append(
            (h.id, h.alert_id, when(h.time), f"{h.symbol} {h.timeframe}", h.condition, h.price,
             h.message, sent)
        )  # fmt: skip
        # under ~100 columns: the time stacked, the alert with its pair, the condition with
        # its price, so that the eight facts fit 80 columns without a word cut (issue #24)
        alert_no = "-" if h.alert_id is None else f"#{h.alert_id}"
        compact.append(
            (h.id, _stacked(h.time), f"{alert_no}\n{h.symbol}\n{h.timeframe}",
             f"{h.condition}\n{h.price}", h.message, sent.replace(", ", "\n"))
        )  # fmt: skip
    title = _("Alert history · page {page} · {total} total").format(
        page=data.page, total=data.total
    )
    columns = [N_("Id"), N_("Alert"), N_("Time"), N_("Pair"), N_("Condition"), N_("Price"),
               N_("Message"), N_("Sent")]  # fmt: skip
    narrow = [N_("Id"), N_("Time"), N_("Alert"), N_("Condition"), N_("Message"), N_("Sent")]
    console().print(_fitted(title, (columns, rows), (narrow, compact)))


FormatOpt = Annotated[str | None, typer.Option("--format", help="toml (default), yaml or json.")]


@app.command("export")
def export(fmt: FormatOpt = None) -> None:
    """Every alert as a file on standard output: alerts export > alerts.toml"""
    from tradealerts.cli.alerts_code import export_file

    export_file(fmt)


@app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="An alerts file (.toml, .yaml or .json).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete your alerts the file does not name.")
    ] = False,
    fmt: FormatOpt = None,
    test: Annotated[
        bool,
        typer.Option("--test", help="When each alert would have fired; apply nothing."),
    ] = False,
    bars: Annotated[
        int | None, typer.Option(min=10, help="With --test: closed bars to replay.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Make your alerts what the file says, all at once or not at all (matched by name)."""
    if test:
        if prune:
            raise UsageProblem(
                "--test applies nothing, so --prune would delete nothing: leave it out "
                "(or test first, then apply with --prune)."
            )
        from tradealerts.cli.alerts_backtest import test_file

        test_file(file, fmt, bars, json_out)
        return
    if bars is not None:
        raise UsageProblem("--bars is the window of --test: add --test (nothing is applied).")
    from tradealerts.cli.alerts_code import apply_file

    apply_file(file, dry_run, prune, fmt, json_out)
