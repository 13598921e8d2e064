"""``core.admin_figures``, the one presenter of the owner's figures: the cells the server's
``admin …`` prints and the TUI's Admin screen shows are the same, only their order and the
words around them differ; the words follow the translator, the figures and codes never."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tradealerts.client.lang import _, use_language
from tradealerts.core import admin_figures as figures

ERROR = {"id": 7, "time": "2026-12-07T10:11:12.345+00:00", "request_id": "req-1",
         "method": "PUT", "route": "/api/subscription/upgrade", "user_id": 3,
         "type": "ApiError:billing_disabled", "message": "x" * 90, "repeats": 2}  # fmt: skip
USAGE = {"hours": 3, "requests": 12, "rate_limited": 1, "by_tier": {"FREE": 12},
         "per_hour": [{"hour": "2026-12-07T09:00:00+00:00", "tier": "FREE", "family": "alerts",
                       "requests": 5},
                      {"hour": "2026-12-07T11:00:00+00:00", "tier": "PRO", "family": "market",
                       "requests": 7}],
         "families": [{"family": "alerts", "requests": 12, "s2xx": 10, "s3xx": 0, "s4xx": 1,
                       "s429": 1, "s5xx": 0, "p50_ms": 3, "p95_ms": 9, "p99_ms": 20}],
         "top_users": []}  # fmt: skip


@pytest.fixture
def german() -> Iterator[None]:
    use_language("de")
    yield
    use_language("en")


def test_errors_one_set_of_cells_in_two_orders() -> None:
    wide = figures.error_table([ERROR])
    narrow = figures.error_table([ERROR], columns=figures.ERROR_COLUMNS_NARROW)
    assert wide.columns == list(figures.ERROR_COLUMNS)
    assert wide.rows == [["2026-12-07T10:11:12", "req-1", "PUT /api/subscription/upgrade", 3,
                          "ApiError:billing_disabled", "x" * 80, 2]]  # fmt: skip
    by_column = dict(zip(wide.columns, wide.rows[0], strict=True))
    assert narrow.rows[0] == [by_column[c] for c in figures.ERROR_COLUMNS_NARROW]
    # an 80-column screen shows what and where first; the ids to copy come last
    assert narrow.rows[0][:2] == ["2026-12-07T10:11:12", "ApiError:billing_disabled"]
    assert narrow.rows[0][-1] == "req-1"


def test_usage_families_and_the_hourly_chart() -> None:
    table = figures.usage_families(USAGE)
    assert table.title == "requests, last 3 h (12, 1 refused 429)"
    assert table.columns[-3:] == ["p50 ms", "p95 ms", "p99 ms"]
    assert table.rows == [["alerts", 12, 10, 0, 1, 1, 0, 3, 9, 20]]
    # every hour of the window, the quiet one at 0
    series = figures.requests_per_hour(USAGE, datetime(2026, 12, 7, 11, 30, tzinfo=UTC))
    assert (series.labels, series.values) == (["09h", "10h", "11h"], [5, 0, 7])


def test_money_is_exact_in_every_currency() -> None:
    revenue = {"failed_payments": {"amount_due": {"jpy": 500, "usd": 2900}, "past_due_accounts": [],
               "invoices": [{"id": "in_1", "email": "a@b.c", "status": "open", "amount_due": 500,
                             "currency": "jpy", "created_at": "2026-12-01T00:00:00Z"}]},
               "upcoming_renewals": {"days": 7, "amount": {}, "renewals": []},
               "revenue_per_month": [{"month": "2026-12", "amounts": {"usd": 2900}}]}  # fmt: skip
    failed = figures.failed_payments(revenue)
    assert failed.title == "failed payments (unpaid: 500 JPY, 29.00 USD)"
    assert failed.rows[0][3] == "500 JPY"  # yen have no cents
    items = figures.revenue_items(revenue)
    assert items.rows == [["2026-12", "29.00 USD"], ["failed #in_1", "a@b.c: 500 JPY"]]
    month = figures.month_series(revenue, "usd")
    assert (month.title, month.values) == ("paid revenue per month, USD (12 months)", [29])


def test_the_words_follow_the_translator_the_figures_do_not(german: None) -> None:
    table = figures.usage_families(USAGE, _)
    assert table.title == "Anfragen, letzte 3 h (12, 1 abgelehnt 429)"
    assert table.columns[:3] == ["Gruppe", "Anfragen", "2xx"]
    assert table.rows == figures.usage_families(USAGE).rows
    # the server's command speaks English whatever the process's language
    assert figures.usage_families(USAGE).columns[0] == "family"
