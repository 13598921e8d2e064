"""The owner's figures on the command line: ``admin stats``, ``revenue``, ``usage`` and
``errors``, from this host's database or a running server (``--server``). What the tables
and charts hold is ``core.admin_figures`` (the TUI's Admin screen draws the same); this
module prints them with Rich and plotext."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from tradealerts.core import admin_figures as figures
from tradealerts.server.cli.common import JSON_OPTION, print_json, table, width
from tradealerts.server.cli.remote import Access, with_login

__all__ = ["admin_errors", "admin_revenue", "admin_stats", "admin_usage"]


def _show(shown: figures.Table) -> None:
    table(shown.title, shown.columns, shown.rows)


def _out(data: Any, as_json: bool, parts: Callable[[], list[figures.Table | str]]) -> None:
    """``data`` as JSON, or the tables and charts (text) ``parts`` makes of it, in order."""
    if as_json:
        print_json(data)
        return
    for part in parts():
        if isinstance(part, figures.Table):
            _show(part)
        else:
            typer.echo(part)


def _chart(series: figures.Series, whole: bool = False) -> str:
    """A plotext bar chart as text; ``whole``: y ticks at whole numbers (counts: plotext's
    own would read 0.33, 0.67, ...)."""
    import plotext as plt

    plt.clear_figure()
    # bars at 0, 1, … with tick labels chosen here: with text x values plotext drops
    # overlapping labels itself, and the one it dropped could be the only busy one
    size = min(100, width(100))
    xs = list(range(len(series.values)))
    plt.bar(xs, series.values, width=0.6)
    _label_ticks(xs, series.labels, size)
    if whole:
        top = max(series.values, default=0)
        step = max(1, -(-top // 4))
        plt.yticks(list(range(0, top + step, step)))
    plt.title(series.title)
    plt.plotsize(size, 15)
    plt.theme("clear")
    return str(plt.build())


def _label_ticks(xs: list[int], labels: list[str], size: int) -> None:
    """Label as many bars as fit side by side, counted back from the newest, which is always
    labelled (the month or day people look for first)."""
    import plotext as plt

    if not labels:
        return
    room = max(1, (size - 10) // (max(len(s) for s in labels) + 2))
    step = max(1, -(-len(labels) // room))
    ticks = xs[::-1][::step][::-1]
    plt.xticks(ticks, [labels[i] for i in ticks])


@with_login
def admin_stats(*, login: Access, as_json: bool = JSON_OPTION) -> None:
    """Users by tier, sign-ups per day, active users, conversions, churn, alerts, fires."""

    def local(s: Any, now: Any, _settings: Any) -> dict[str, Any]:
        from tradealerts.server import dashboard  # the database's side only (start-up cost)

        return dashboard.analytics(s, now)

    data = login.get("/api/admin/analytics", local)
    _out(data, as_json, lambda: [
        figures.users_by_tier(data), figures.activity(data),
        _chart(figures.signups(data), whole=True), _chart(figures.fires(data), whole=True),
    ])  # fmt: skip


@with_login
def admin_revenue(*, login: Access, as_json: bool = JSON_OPTION) -> None:
    """MRR, ARR, subscriptions by status, revenue per month, failed payments, renewals."""

    def local(s: Any, now: Any, settings: Any) -> dict[str, Any]:
        from tradealerts.server import dashboard  # the database's side only (start-up cost)

        return dashboard.revenue(s, now, settings.billing_grace_days)

    data = login.get("/api/admin/revenue", local)
    _out(data, as_json, lambda: [
        figures.revenue_headline(data), figures.subscriptions_by_status(data),
        figures.paid_per_month(data),
        *(_chart(figures.month_series(data, c)) for c in figures.currencies(data)),
        figures.failed_payments(data), figures.past_due(data), figures.renewals(data),
    ])  # fmt: skip


_HOURS = typer.Option(24, min=1, max=24 * 90, help="Window in hours.")
_LIMIT = typer.Option(50, min=1, max=500, help="How many.")
_FOLLOW = typer.Option(False, "--follow", help="Keep printing new ones (Ctrl-C).")


@with_login
def admin_usage(hours: int = _HOURS, *, login: Access, as_json: bool = JSON_OPTION) -> None:
    """Requests per hour by tier and route family, 429s, latency p50/p95/p99, top users."""

    def local(s: Any, _now: Any, _settings: Any) -> dict[str, Any]:
        from tradealerts.server import dashboard  # the database's side only (start-up cost)

        return dashboard.api_usage(s, hours)

    data = login.get("/api/admin/api-usage", local, {"hours": hours})
    _out(data, as_json, lambda: [
        figures.usage_families(data), figures.usage_per_hour(data), figures.top_users(data)
    ])  # fmt: skip


@with_login
def admin_errors(
    limit: int = _LIMIT, follow: bool = _FOLLOW, *, login: Access, as_json: bool = JSON_OPTION
) -> None:
    """Recent server errors: time, request id, route, user, type, message, repeats."""
    import time

    def fetch(after_id: int) -> list[dict[str, Any]]:
        def local(s: Any, _now: Any, _settings: Any) -> dict[str, Any]:
            from tradealerts.server import dashboard  # the database's side only

            return dashboard.error_logs(s, after_id=after_id, limit=limit)

        params = {"after_id": after_id, "limit": limit}
        return list(login.get("/api/admin/error-logs", local, params)["errors"])

    errors = fetch(0)
    if as_json and not follow:
        print_json({"errors": errors})
        return
    errors.reverse()  # oldest first, like a log
    last = max((e["id"] for e in errors), default=0)
    if as_json:
        for e in errors:
            print_json(e)
    else:
        _show(figures.error_table(errors))
    while follow:
        try:
            time.sleep(2.0)
        except KeyboardInterrupt:
            break
        for e in fetch(last):
            last = max(last, e["id"])
            if as_json:
                print_json(e)
            else:
                row = figures.error_table([e]).rows[0]
                typer.echo("  ".join("" if v is None else str(v) for v in row))
        sys.stdout.flush()
