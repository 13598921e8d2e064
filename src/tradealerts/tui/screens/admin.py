"""The owner's dashboard (administrators only): the views of ``tradealerts-server admin``
(stats, revenue, usage, errors, incidents) with their charts, read from ``/api/admin/…``.

``1``–``5`` pick a view, ``r`` reloads it. Figures are the server's; this screen only lays
them out (money stays integer minor units until it is printed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from tradealerts.client import Call, endpoints
from tradealerts.client.lang import N_
from tradealerts.client.money import amounts, money
from tradealerts.tui.base import spawn, ta
from tradealerts.tui.errors import Handled
from tradealerts.tui.widgets.bar_chart import BarChart
from tradealerts.tui.widgets.footer import Footer
from tradealerts.tui.widgets.status_bar import StatusBar

__all__ = ["VIEWS", "AdminScreen"]

#: view id -> its tab's label
VIEWS = {
    "stats": "Stats",
    "revenue": "Revenue",
    "usage": "Usage",
    "errors": "Errors",
    "incidents": "Incidents",
}
#: the usage view's window
USAGE_HOURS = 24


def _table(table: DataTable[Any], columns: list[str], rows: list[list[Any]]) -> None:
    table.clear(columns=True)
    table.add_columns(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))


class AdminScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(i), f"view('{v}')", label) for i, (v, label) in enumerate(VIEWS.items(), 1)),
        Binding("r", "reload", N_("Reload")),
    ]

    def compose(self) -> ComposeResult:
        with TabbedContent(id="admin"):
            for view, label in VIEWS.items():
                tab = f"{list(VIEWS).index(view) + 1} {label}"
                with TabPane(tab, id=view), VerticalScroll():
                    yield Static("loading …", id=f"{view}-summary", classes="summary")
                    if view not in ("errors", "incidents"):
                        yield BarChart(label, id=f"{view}-chart")
                    if view == "stats":
                        yield BarChart("alert fires per day (30 days)", id="stats-fires")
                    yield DataTable(id=f"{view}-table", cursor_type="row")
        yield StatusBar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.loaded: dict[str, dict[str, Any]] = {}
        self.action_reload()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        view = event.pane.id or "stats"
        if view not in self.loaded:
            self.load(view)

    @property
    def view(self) -> str:
        return self.query_one(TabbedContent).active or "stats"

    def action_view(self, view: str) -> None:
        self.query_one(TabbedContent).active = view

    def action_reload(self) -> None:
        self.load(self.view)

    def load(self, view: str) -> None:
        async def work() -> None:
            await self._load(view)

        spawn(self, work, group=f"admin-{view}", exclusive=True)

    async def _load(self, view: str) -> None:
        app = ta(self)
        calls: dict[str, Callable[[], Call[dict[str, Any]]]] = {
            "stats": endpoints.admin_analytics,
            "revenue": endpoints.admin_revenue,
            "usage": lambda: endpoints.admin_api_usage(USAGE_HOURS),
            "errors": endpoints.admin_error_logs,
            "incidents": endpoints.admin_incidents,
        }
        call = calls[view]()
        try:
            data = await app.api(call)
        except Handled as exc:
            self.query_one(f"#{view}-summary", Static).update(Text(str(exc), style="bold red"))
            return
        self.loaded[view] = data
        getattr(self, f"_show_{view}")(data)

    def _summary(self, view: str, text: Text | str) -> None:
        self.query_one(f"#{view}-summary", Static).update(text)

    # -- the four views ------------------------------------------------------------------
    def _show_stats(self, d: dict[str, Any]) -> None:
        a = d["active_users"]
        tiers = "  ".join(f"{t} {n}" for t, n in d["users_by_tier"].items())
        self._summary(
            "stats",
            f"[b]{d['users_total']}[/b] users ({tiers})   active today {a['day']}, "
            f"this week {a['week']}, this month {a['month']}\n"
            f"30 days: FREE→PRO [b]{d['conversions_30d']}[/b]   churn [b]{d['churn_30d']}[/b]",
        )
        days = d["signups_per_day"]
        self.query_one("#stats-chart", BarChart).show(
            [x["date"][5:] for x in days],
            [x["count"] for x in days],
            "sign-ups per day (30 days)",
        )
        fires = d["fires_per_day"]
        self.query_one("#stats-fires", BarChart).show(
            [x["date"][5:] for x in fires], [x["count"] for x in fires]
        )
        _table(
            self.query_one("#stats-table", DataTable),
            ["tier", "users", "active alerts"],
            [[t, n, d["active_alerts_by_tier"].get(t, 0)] for t, n in d["users_by_tier"].items()],
        )

    def _show_revenue(self, d: dict[str, Any]) -> None:
        failed = d["failed_payments"]
        up = d["upcoming_renewals"]
        by_status = "  ".join(f"{k} {v}" for k, v in d["subscriptions_by_status"].items())
        self._summary(
            "revenue",
            f"MRR [b]{amounts(d['mrr'])}[/b]   ARR [b]{amounts(d['arr'])}[/b]   "
            f"live subscriptions [b]{d['live_subscriptions']}[/b]\n"
            f"by status: {by_status or '—'}\n"
            f"failed payments: {len(failed['invoices'])} "
            f"(unpaid {amounts(failed['amount_due'])}), past due: "
            f"{len(failed['past_due_accounts'])}   renewals in {up['days']} days: "
            f"{len(up['renewals'])} ({amounts(up['amount'])})",
        )
        months = d["revenue_per_month"]
        currencies = sorted({c for m in months for c in m["amounts"]}) or ["usd"]
        cur = currencies[0]  # the chart shows one currency; the table holds them all
        self.query_one("#revenue-chart", BarChart).show(
            [m["month"][2:] for m in months],
            [m["amounts"].get(cur, 0) // 100 for m in months],
            f"paid revenue per month, {cur.upper()} (12 months)",
        )
        rows: list[list[Any]] = [[m["month"], amounts(m["amounts"])] for m in months]
        rows += [
            [f"failed #{i['id']}", f"{i['email']}: {money(i['amount_due'], i['currency'])}"]
            for i in failed["invoices"]
        ]
        rows += [
            [f"renews {r['renews_at'][:10]}", f"{r['email']}: {money(r['amount'], r['currency'])}"]
            for r in up["renewals"]
        ]
        _table(self.query_one("#revenue-table", DataTable), ["month / item", "amount"], rows)

    def _show_usage(self, d: dict[str, Any]) -> None:
        tiers = "  ".join(f"{t} {n}" for t, n in d["by_tier"].items())
        self._summary(
            "usage",
            f"last {d['hours']} h: [b]{d['requests']}[/b] requests ({tiers or '—'}), "
            f"[b]{d['rate_limited']}[/b] refused 429\n"
            "top users: "
            + (", ".join(f"{u['email']} {u['requests']}" for u in d["top_users"][:5]) or "—"),
        )
        per_hour: dict[str, int] = defaultdict(int)
        for h in d["per_hour"]:
            per_hour[h["hour"][:13]] += h["requests"]
        # every hour of the window, quiet ones at 0, so one busy hour is one bar, not the chart
        now = ta(self).clock().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        hours = [now - timedelta(hours=i) for i in range(min(d["hours"], 48) - 1, -1, -1)]
        self.query_one("#usage-chart", BarChart).show(
            [f"{h:%H}h" for h in hours],
            [per_hour.get(h.isoformat()[:13], 0) for h in hours],
            f"requests per hour (last {len(hours)} h, UTC)",
        )
        _table(
            self.query_one("#usage-table", DataTable),
            ["family", "requests", "2xx", "3xx", "4xx", "429", "5xx", "p50", "p95", "p99 ms"],
            [
                [
                    f["family"],
                    f["requests"],
                    f["s2xx"],
                    f["s3xx"],
                    f["s4xx"],
                    f["s429"],
                    f["s5xx"],
                    f["p50_ms"],
                    f["p95_ms"],
                    f["p99_ms"],
                ]
                for f in d["families"]
            ],
        )

    def _when(self, iso: str) -> str:
        """An ISO time in the person's timezone."""
        try:
            return ta(self).local(datetime.fromisoformat(iso)).strftime("%m-%d %H:%M:%S")
        except ValueError:
            return iso

    def _show_errors(self, d: dict[str, Any]) -> None:
        errors = d["errors"]
        self._summary(
            "errors",
            f"[b]{len(errors)}[/b] recent server errors, newest first (r reloads)"
            if errors
            else "No server errors recorded.",
        )
        _table(
            self.query_one("#errors-table", DataTable),
            # what and where first (an 80-column screen shows these); the ids to copy after
            ["time", "type", "message", "route", "repeats", "user", "request id"],
            [
                [
                    self._when(e["time"]),
                    e["type"],
                    e["message"][:80],
                    f"{e['method']} {e['route']}",
                    e["repeats"],
                    e["user_id"],
                    e["request_id"],
                ]
                for e in errors
            ],
        )

    def _show_incidents(self, d: dict[str, Any]) -> None:
        rows = d["incidents"]
        self._summary(
            "incidents",
            Text(f"{d['open']} open incident(s)", style="bold red")
            if d["open"]
            else f"No open incidents; {len(rows)} closed in the last {d['recent_days']} days.",
        )
        _table(
            self.query_one("#incidents-table", DataTable),
            ["status", "title", "opened", "reminders", "closed", "detail"],
            [
                [
                    r["status"],
                    r["title"],
                    self._when(r["opened_at"]),
                    r["reminders"],
                    self._when(r["closed_at"]) if r["closed_at"] else "",
                    (r["recovery"] or r["detail"])[:100],
                ]
                for r in rows
            ],
        )
