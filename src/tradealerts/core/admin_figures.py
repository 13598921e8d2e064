"""The owner's figures as tables and charts: the one presenter of what ``/api/admin/…``
answers (analytics, revenue, api-usage, error-logs, incidents), drawn by
``tradealerts-server admin …`` (Rich tables, plotext charts) and by the TUI's Admin screen
(DataTables, bar charts).

Each function takes the API's JSON (the same dict the CLI builds from the local database)
and returns a :class:`Table` or a :class:`Series`; the front end only lays it out. Pure and
light (no I/O, no third-party import): both sides import it.

Words: ``_`` is the caller's translator. The server's command speaks English (the default);
the TUI passes the ``client`` catalog's ``_``, so this module's messages are extracted into
the ``client`` domain (locale/babel-client.cfg). Codes (``2xx``, ``MRR``, tiers, statuses)
and the figures themselves are never translated. Money stays integer minor units until
``core.money`` prints it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tradealerts.core.money import amounts, money

__all__ = [
    "ERROR_COLUMNS",
    "ERROR_COLUMNS_NARROW",
    "INCIDENT_COLUMNS",
    "INCIDENT_COLUMNS_NARROW",
    "Series",
    "Table",
    "Translate",
    "activity",
    "currencies",
    "english",
    "error_table",
    "failed_payments",
    "fires",
    "incident_table",
    "month_series",
    "paid_per_month",
    "past_due",
    "renewals",
    "requests_per_hour",
    "revenue_headline",
    "revenue_items",
    "signups",
    "subscriptions_by_status",
    "top_users",
    "usage_families",
    "usage_per_hour",
    "users_by_tier",
]

Translate = Callable[[str], str]
Row = list[Any]


def english(message: str) -> str:
    """The translator of the server's command: the message as written."""
    return message


@dataclass(frozen=True)
class Table:
    """A titled table: a cell of ``None`` shows empty."""

    title: str
    columns: list[str]
    rows: list[Row]


@dataclass(frozen=True)
class Series:
    """A bar chart's data: one label and one whole value per bar, oldest first."""

    title: str
    labels: list[str]
    values: list[int]


# -- stats (GET /api/admin/analytics) ---------------------------------------------------
def users_by_tier(d: Mapping[str, Any], _: Translate = english) -> Table:
    """Users and their active alerts, per tier."""
    rows = [[t, n, d["active_alerts_by_tier"].get(t, 0)] for t, n in d["users_by_tier"].items()]
    return Table(_("users"), [_("tier"), _("users"), _("active alerts")], rows)


def activity(d: Mapping[str, Any], _: Translate = english) -> Table:
    """Active users today, this week and this month; conversions and churn in 30 days."""
    a = d["active_users"]
    return Table(
        _("activity (30 days)"),
        [_("active today"), _("this week"), _("this month"), "FREE→PRO", _("churn")],
        [[a["day"], a["week"], a["month"], d["conversions_30d"], d["churn_30d"]]],
    )


def _per_day(title: str, days: Sequence[Mapping[str, Any]]) -> Series:
    return Series(title, [x["date"][5:] for x in days], [x["count"] for x in days])


def signups(d: Mapping[str, Any], _: Translate = english) -> Series:
    """Sign-ups per day, labelled MM-DD."""
    return _per_day(_("sign-ups per day (30 days)"), d["signups_per_day"])


def fires(d: Mapping[str, Any], _: Translate = english) -> Series:
    """Alert fires per day, labelled MM-DD."""
    return _per_day(_("alert fires per day (30 days)"), d["fires_per_day"])


# -- revenue (GET /api/admin/revenue) ---------------------------------------------------
def revenue_headline(d: Mapping[str, Any], _: Translate = english) -> Table:
    """MRR, ARR and the live subscriptions."""
    return Table(
        _("revenue"),
        ["MRR", "ARR", _("live subscriptions")],
        [[amounts(d["mrr"]), amounts(d["arr"]), d["live_subscriptions"]]],
    )


def subscriptions_by_status(d: Mapping[str, Any], _: Translate = english) -> Table:
    """How many subscriptions are in each Stripe status."""
    rows: list[Row] = [[k, v] for k, v in d["subscriptions_by_status"].items()]
    return Table(_("subscriptions by status"), [_("status"), _("subscriptions")], rows)


def paid_per_month(d: Mapping[str, Any], _: Translate = english) -> Table:
    """Paid revenue per month, every currency."""
    rows: list[Row] = [[m["month"], amounts(m["amounts"])] for m in d["revenue_per_month"]]
    return Table(_("paid revenue per month (12 months)"), [_("month"), _("paid")], rows)


def currencies(d: Mapping[str, Any]) -> list[str]:
    """The currencies paid in over the months shown, sorted."""
    return sorted({c for m in d["revenue_per_month"] for c in m["amounts"]})


def month_series(d: Mapping[str, Any], currency: str, _: Translate = english) -> Series:
    """One currency's paid revenue per month in whole major units (the chart is a picture;
    the tables hold the exact figures), labelled YYYY-MM."""
    months = d["revenue_per_month"]
    return Series(
        _("paid revenue per month, {currency} (12 months)").format(currency=currency.upper()),
        [m["month"] for m in months],
        [m["amounts"].get(currency, 0) // 100 for m in months],
    )


def failed_payments(d: Mapping[str, Any], _: Translate = english) -> Table:
    """Invoices whose payment failed, with the total still unpaid in the title."""
    failed = d["failed_payments"]
    return Table(
        _("failed payments (unpaid: {amount})").format(amount=amounts(failed["amount_due"])),
        [_("invoice"), _("email"), _("status"), _("amount due"), _("created")],
        [
            [i["id"], i["email"], i["status"], money(i["amount_due"], i["currency"]),
             i["created_at"][:10]]
            for i in failed["invoices"]
        ],
    )  # fmt: skip


def past_due(d: Mapping[str, Any], _: Translate = english) -> Table:
    """Past-due subscriptions and when their grace ends."""
    rows: list[Row] = [
        [a["email"], (a["past_due_since"] or "")[:16], (a["grace_ends_at"] or "")[:16]]
        for a in d["failed_payments"]["past_due_accounts"]
    ]
    return Table(
        _("past due subscriptions"), [_("email"), _("past due since"), _("grace ends")], rows
    )


def renewals(d: Mapping[str, Any], _: Translate = english) -> Table:
    """Renewals due soon, with their total in the title."""
    up = d["upcoming_renewals"]
    return Table(
        _("renewals in the next {days} days ({amount})").format(
            days=up["days"], amount=amounts(up["amount"])
        ),
        [_("email"), _("status"), _("renews"), _("amount")],
        [
            [r["email"], r["status"], r["renews_at"][:16], money(r["amount"], r["currency"])]
            for r in up["renewals"]
        ],
    )


def revenue_items(d: Mapping[str, Any], _: Translate = english) -> Table:
    """Months, failed invoices and renewals in one two-column table (a narrow screen)."""
    failed, up = d["failed_payments"], d["upcoming_renewals"]
    rows = paid_per_month(d, _).rows
    rows += [
        [_("failed #{id}").format(id=i["id"]),
         f"{i['email']}: {money(i['amount_due'], i['currency'])}"]
        for i in failed["invoices"]
    ]  # fmt: skip
    rows += [
        [_("renews {date}").format(date=r["renews_at"][:10]),
         f"{r['email']}: {money(r['amount'], r['currency'])}"]
        for r in up["renewals"]
    ]  # fmt: skip
    return Table(_("revenue"), [_("month / item"), _("amount")], rows)


# -- usage (GET /api/admin/api-usage) ---------------------------------------------------
def usage_families(d: Mapping[str, Any], _: Translate = english) -> Table:
    """Requests, status classes and latency percentiles per route family."""
    title = _("requests, last {hours} h ({requests}, {refused} refused 429)")
    codes = ["2xx", "3xx", "4xx", "429", "5xx", "p50 ms", "p95 ms", "p99 ms"]
    keys = ["s2xx", "s3xx", "s4xx", "s429", "s5xx", "p50_ms", "p95_ms", "p99_ms"]
    return Table(
        title.format(hours=d["hours"], requests=d["requests"], refused=d["rate_limited"]),
        [_("family"), _("requests"), *codes],
        [[f["family"], f["requests"], *(f[k] for k in keys)] for f in d["families"]],
    )


def usage_per_hour(d: Mapping[str, Any], _: Translate = english) -> Table:
    """Requests per hour, tier and route family."""
    rows: list[Row] = [
        [h["hour"][:16], h["tier"], h["family"], h["requests"]] for h in d["per_hour"]
    ]
    return Table(_("per hour"), [_("hour"), _("tier"), _("family"), _("requests")], rows)


def top_users(d: Mapping[str, Any], _: Translate = english) -> Table:
    """The users who made the most requests."""
    rows: list[Row] = [[u["user_id"], u["email"], u["tier"], u["requests"]] for u in d["top_users"]]
    return Table(_("top users"), ["id", _("email"), _("tier"), _("requests")], rows)


def requests_per_hour(d: Mapping[str, Any], now: datetime, _: Translate = english) -> Series:
    """Every hour of the window up to ``now`` (at most 48), quiet ones at 0, so one busy
    hour is one bar, not the chart; labelled HHh (UTC)."""
    per_hour: dict[str, int] = defaultdict(int)
    for h in d["per_hour"]:
        per_hour[h["hour"][:13]] += h["requests"]
    top = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [top - timedelta(hours=i) for i in range(min(d["hours"], 48) - 1, -1, -1)]
    return Series(
        _("requests per hour (last {n} h, UTC)").format(n=len(hours)),
        [f"{h:%H}h" for h in hours],
        [per_hour.get(h.isoformat()[:13], 0) for h in hours],
    )


# -- errors and incidents: one set of cells, two orders ---------------------------------
#: a log line's order (the owner's command)
ERROR_COLUMNS = ("time", "request id", "route", "user", "type", "message", "repeats")
#: what and where first: an 80-column screen shows these; the ids to copy after
ERROR_COLUMNS_NARROW = ("time", "type", "message", "route", "repeats", "user", "request id")
INCIDENT_COLUMNS = ("id", "status", "kind", "title", "opened", "reminders", "closed", "detail")
INCIDENT_COLUMNS_NARROW = ("status", "title", "opened", "reminders", "closed", "detail")


def _utc(iso: str) -> str:
    return iso[:19]


def _pick(cells: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[Row]:
    return [[c[k] for k in columns] for c in cells]


def error_table(
    errors: Sequence[Mapping[str, Any]],
    _: Translate = english,
    when: Callable[[str], str] = _utc,
    columns: Sequence[str] = ERROR_COLUMNS,
) -> Table:
    """Recorded server errors (newest first as given), their times written by ``when``."""
    cells = [
        {"time": when(e["time"]), "request id": e["request_id"],
         "route": f"{e['method']} {e['route']}", "user": e["user_id"], "type": e["type"],
         "message": e["message"][:80], "repeats": e["repeats"]}
        for e in errors
    ]  # fmt: skip
    names = {"time": _("time"), "request id": _("request id"), "route": _("route"),
             "user": _("user"), "type": _("type"), "message": _("message"),
             "repeats": _("repeats")}  # fmt: skip
    return Table(_("server errors"), [names[c] for c in columns], _pick(cells, columns))


def incident_table(
    d: Mapping[str, Any],
    _: Translate = english,
    when: Callable[[str], str] = lambda iso: _utc(iso).replace("T", " "),
    columns: Sequence[str] = INCIDENT_COLUMNS,
    cut: int | None = None,
) -> Table:
    """Open incidents, then the recently closed ones; a detail longer than ``cut`` is cut."""
    cells = [
        {"id": r["id"], "status": r["status"], "kind": r["kind"], "title": r["title"],
         "opened": when(r["opened_at"]) if r["opened_at"] else "", "reminders": r["reminders"],
         "closed": when(r["closed_at"]) if r["closed_at"] else "",
         "detail": (r["recovery"] or r["detail"])[:cut]}
        for r in d["incidents"]
    ]  # fmt: skip
    names = {"id": "id", "status": _("status"), "kind": _("kind"), "title": _("title"),
             "opened": _("opened"), "reminders": _("reminders"), "closed": _("closed"),
             "detail": _("detail")}  # fmt: skip
    title = _("incidents: {open} open, closed within {days} days")
    return Table(
        title.format(open=d["open"], days=d["recent_days"]),
        [names[c] for c in columns],
        _pick(cells, columns),
    )
