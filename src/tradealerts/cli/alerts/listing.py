"""alerts list|show: your alerts as a table (their health with ``--health``), one in full."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tradealerts.cli.alerts.common import (
    IdArg,
    JsonOpt,
    alerts_table,
    app,
    fitted,
    stacked,
    value_pairs,
)
from tradealerts.cli.context import UsageProblem
from tradealerts.cli.negatives import NegativeNumbers
from tradealerts.cli.output import console, fetch, key_values, when
from tradealerts.client.lang import N_, _, ngettext

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
    last = "-" if h.last_fired_at is None else stacked(h.last_fired_at)
    fires = f"{h.fires_24h}/{h.fires_7d}/{h.fires_30d}"
    return (a.id, alert, fires, last, _flags(h).replace(" ", "\n"))


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
             for pair in value_pairs(a)]  # fmt: skip
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
    page = fetch(endpoints.alerts(status.lower() if status else None, sym), json_out)
    if page is None:
        return
    title = _("Alerts · {active} of {limit} active").format(active=page.active, limit=page.limit)
    if health:
        table = fitted(
            title,
            (_HEALTH_COLUMNS, [_health_line(a) for a in page.items]),
            (_COMPACT_HEALTH_COLUMNS, [_compact_health_line(a) for a in page.items]),
        )
        console().print(table)
        return
    console().print(alerts_table(title, page.items))


@app.command("show", cls=NegativeNumbers)
def show(alert_id: IdArg, json_out: JsonOpt = False) -> None:
    """One alert in full: every field, one a line."""
    from tradealerts.client import endpoints

    a = fetch(endpoints.alert(alert_id), json_out)
    if a is not None:
        console().print(key_values(_full(a)))
