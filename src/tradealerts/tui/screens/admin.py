"""The owner's dashboard (administrators only): the views of ``tradealerts-server admin``
(stats, revenue, usage, errors, incidents) with their charts, read from ``/api/admin/…``.

``1``–``5`` pick a view, ``r`` reloads it. Figures are the server's and their tables and
charts are ``core.admin_figures``' (the one presenter, shared with ``admin …``); this screen
adds the summary lines and lays them out, in the person's language (money stays integer
minor units until it is printed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from tradealerts.client import Call, endpoints
from tradealerts.client.lang import N_, _
from tradealerts.core import admin_figures as figures
from tradealerts.core.money import amounts
from tradealerts.tui.base import spawn, ta
from tradealerts.tui.errors import Handled
from tradealerts.tui.widgets.bar_chart import BarChart
from tradealerts.tui.widgets.footer import Footer
from tradealerts.tui.widgets.status_bar import StatusBar

__all__ = ["VIEWS", "AdminScreen"]

#: view id -> its tab's label
VIEWS = {
    "stats": N_("Stats"),
    "revenue": N_("Revenue"),
    "usage": N_("Usage"),
    "errors": N_("Errors"),
    "incidents": N_("Incidents"),
}
#: the usage view's window
USAGE_HOURS = 24


def _table(table: DataTable[Any], shown: figures.Table) -> None:
    table.clear(columns=True)
    table.add_columns(*shown.columns)
    for row in shown.rows:
        table.add_row(*("" if v is None else str(v) for v in row))


class AdminScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(i), f"view('{v}')", label) for i, (v, label) in enumerate(VIEWS.items(), 1)),
        Binding("r", "reload", N_("Reload")),
    ]

    def compose(self) -> ComposeResult:
        with TabbedContent(id="admin"):
            for number, (view, label) in enumerate(VIEWS.items(), 1):
                with TabPane(f"{number} {_(label)}", id=view), VerticalScroll():
                    yield Static(_("loading …"), id=f"{view}-summary", classes="summary")
                    if view not in ("errors", "incidents"):
                        yield BarChart(_(label), id=f"{view}-chart")
                    if view == "stats":
                        yield BarChart(_("alert fires per day (30 days)"), id="stats-fires")
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

    def _chart(self, selector: str, series: figures.Series, short: bool = False) -> None:
        """Draw ``series``; ``short`` drops a label's first two characters (26-12 for 2026-12)."""
        labels = [label[2:] for label in series.labels] if short else series.labels
        values = cast("list[float]", series.values)  # whole numbers: shown as counts
        self.query_one(selector, BarChart).show(labels, values, series.title)

    # -- the five views: the figures are core.admin_figures', as `admin …` prints them ----
    def _show_stats(self, d: dict[str, Any]) -> None:
        a = d["active_users"]
        tiers = "  ".join(f"{t} {n}" for t, n in d["users_by_tier"].items())
        self._summary(
            "stats",
            _(
                "[b]{total}[/b] users ({tiers})   active today {day}, this week {week}, "
                "this month {month}"
            ).format(total=d["users_total"], tiers=tiers, day=a["day"], week=a["week"],
                     month=a["month"])
            + "\n"
            + _("30 days: FREE→PRO [b]{conversions}[/b]   churn [b]{churn}[/b]").format(
                conversions=d["conversions_30d"], churn=d["churn_30d"]
            ),
        )  # fmt: skip
        self._chart("#stats-chart", figures.signups(d, _))
        self._chart("#stats-fires", figures.fires(d, _))
        _table(self.query_one("#stats-table", DataTable), figures.users_by_tier(d, _))

    def _show_revenue(self, d: dict[str, Any]) -> None:
        failed, up = d["failed_payments"], d["upcoming_renewals"]
        by_status = "  ".join(f"{k} {v}" for k, v in d["subscriptions_by_status"].items())
        lines = [
            _("MRR [b]{mrr}[/b]   ARR [b]{arr}[/b]   live subscriptions [b]{live}[/b]").format(
                mrr=amounts(d["mrr"]), arr=amounts(d["arr"]), live=d["live_subscriptions"]
            ),
            _("by status: {statuses}").format(statuses=by_status or "—"),
            _("failed payments: {failed} (unpaid {unpaid}), past due: {past_due}   "
              "renewals in {days} days: {renewals} ({amount})").format(
                failed=len(failed["invoices"]), unpaid=amounts(failed["amount_due"]),
                past_due=len(failed["past_due_accounts"]), days=up["days"],
                renewals=len(up["renewals"]), amount=amounts(up["amount"])),
        ]  # fmt: skip
        self._summary("revenue", "\n".join(lines))
        # the chart shows one currency; the table holds them all
        currency = (figures.currencies(d) or ["usd"])[0]
        self._chart("#revenue-chart", figures.month_series(d, currency, _), short=True)
        _table(self.query_one("#revenue-table", DataTable), figures.revenue_items(d, _))

    def _show_usage(self, d: dict[str, Any]) -> None:
        tiers = "  ".join(f"{t} {n}" for t, n in d["by_tier"].items())
        top = ", ".join(f"{u['email']} {u['requests']}" for u in d["top_users"][:5])
        self._summary(
            "usage",
            _("last {hours} h: [b]{requests}[/b] requests ({tiers}), [b]{refused}[/b] refused 429")
            .format(hours=d["hours"], requests=d["requests"], tiers=tiers or "—",
                    refused=d["rate_limited"])
            + "\n" + _("top users: {users}").format(users=top or "—"),
        )  # fmt: skip
        self._chart("#usage-chart", figures.requests_per_hour(d, ta(self).clock(), _))
        _table(self.query_one("#usage-table", DataTable), figures.usage_families(d, _))

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
            _("[b]{count}[/b] recent server errors, newest first (r reloads)").format(
                count=len(errors)
            )
            if errors
            else _("No server errors recorded."),
        )
        shown = figures.error_table(errors, _, self._when, figures.ERROR_COLUMNS_NARROW)
        _table(self.query_one("#errors-table", DataTable), shown)

    def _show_incidents(self, d: dict[str, Any]) -> None:
        self._summary(
            "incidents",
            Text(_("{count} open incident(s)").format(count=d["open"]), style="bold red")
            if d["open"]
            else _("No open incidents; {count} closed in the last {days} days.").format(
                count=len(d["incidents"]), days=d["recent_days"]
            ),
        )
        shown = figures.incident_table(d, _, self._when, figures.INCIDENT_COLUMNS_NARROW, cut=100)
        _table(self.query_one("#incidents-table", DataTable), shown)
