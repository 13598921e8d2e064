"""Market hours (issue #29): the asset-class defaults, New York's daylight saving, overrides."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tradealerts.core.market_hours import (
    AssetClass,
    MarketHoursError,
    asset_class,
    is_open,
    last_change,
    next_change,
    parse_schedule,
    schedule_for,
)


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)  # type: ignore[misc]


def test_asset_classes_of_the_product_symbols() -> None:
    assert asset_class("EURUSD") is AssetClass.FOREX
    assert asset_class("USDJPY") is AssetClass.FOREX
    assert asset_class("XAUUSD") is AssetClass.METAL
    assert asset_class("XAGUSD") is AssetClass.METAL
    assert asset_class("US30") is AssetClass.INDEX
    assert asset_class("NDX100") is AssetClass.INDEX
    assert asset_class("BTCUSD") is AssetClass.CRYPTO
    assert asset_class("ETHUSD") is AssetClass.CRYPTO


def test_forex_weekend_in_winter() -> None:
    # 2026-12-04 is a Friday; New York is on EST (UTC-5): the week ends 22:00 UTC
    assert is_open("EURUSD", utc(2026, 12, 4, 21, 59))
    assert not is_open("EURUSD", utc(2026, 12, 4, 22, 0))
    assert not is_open("EURUSD", utc(2026, 12, 5, 12, 0))  # Saturday
    assert not is_open("EURUSD", utc(2026, 12, 6, 21, 59))  # Sunday before the open
    assert is_open("EURUSD", utc(2026, 12, 6, 22, 0))
    assert is_open("EURUSD", utc(2026, 12, 9, 3, 0))  # midweek, no daily break for forex
    assert next_change("EURUSD", utc(2026, 12, 5, 12, 0)) == utc(2026, 12, 6, 22, 0)
    assert next_change("EURUSD", utc(2026, 12, 7, 1, 0)) == utc(2026, 12, 11, 22, 0)
    assert last_change("EURUSD", utc(2026, 12, 5, 12, 0)) == utc(2026, 12, 4, 22, 0)
    assert last_change("EURUSD", utc(2026, 12, 4, 22, 0)) == utc(2026, 12, 4, 22, 0)
    assert last_change("EURUSD", utc(2026, 12, 9, 3, 0)) == utc(2026, 12, 6, 22, 0)


def test_forex_follows_new_york_daylight_saving() -> None:
    # the decision: the week follows New York's 17:00, so it moves an hour in UTC in summer
    # (2026-07-03 is a Friday, EDT = UTC-4: the week ends 21:00 UTC)
    assert is_open("EURUSD", utc(2026, 7, 3, 20, 59))
    assert not is_open("EURUSD", utc(2026, 7, 3, 21, 0))
    assert not is_open("EURUSD", utc(2026, 7, 5, 20, 59))
    assert is_open("EURUSD", utc(2026, 7, 5, 21, 0))
    # the weekend of the spring switch (2026-03-08, 02:00 EST → 03:00 EDT): Friday closes
    # on EST (22:00 UTC), Sunday opens on EDT (21:00 UTC)
    assert next_change("EURUSD", utc(2026, 3, 6, 12, 0)) == utc(2026, 3, 6, 22, 0)
    assert next_change("EURUSD", utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 8, 21, 0)


def test_metals_and_indices_daily_break() -> None:
    # summer: gold's break is 21:00-22:00 UTC (17:00-18:00 New York)
    assert is_open("XAUUSD", utc(2026, 7, 7, 20, 59))
    assert not is_open("XAUUSD", utc(2026, 7, 7, 21, 0))
    assert not is_open("XAUUSD", utc(2026, 7, 7, 21, 59))
    assert is_open("XAUUSD", utc(2026, 7, 7, 22, 0))
    assert next_change("XAUUSD", utc(2026, 7, 7, 12, 0)) == utc(2026, 7, 7, 21, 0)
    assert next_change("XAUUSD", utc(2026, 7, 7, 21, 30)) == utc(2026, 7, 7, 22, 0)
    assert last_change("XAUUSD", utc(2026, 7, 7, 21, 30)) == utc(2026, 7, 7, 21, 0)
    assert last_change("XAUUSD", utc(2026, 7, 7, 23, 0)) == utc(2026, 7, 7, 22, 0)
    # winter: 22:00-23:00 UTC; the indices keep the same break
    assert is_open("US30", utc(2026, 12, 8, 21, 30))
    assert not is_open("US30", utc(2026, 12, 8, 22, 30))
    assert not is_open("NDX100", utc(2026, 12, 8, 22, 30))
    # Sunday: metals open an hour after forex (18:00 New York)
    assert is_open("EURUSD", utc(2026, 12, 6, 22, 30))
    assert not is_open("XAUUSD", utc(2026, 12, 6, 22, 30))
    assert is_open("XAUUSD", utc(2026, 12, 6, 23, 0))
    # the Friday close is not followed by the break's end
    assert next_change("XAUUSD", utc(2026, 12, 4, 22, 30)) == utc(2026, 12, 6, 23, 0)


def test_crypto_always_open() -> None:
    for at in (utc(2026, 12, 5, 12, 0), utc(2026, 12, 6, 3, 0), utc(2026, 7, 7, 21, 30)):
        assert is_open("BTCUSD", at)
        assert is_open("ETHUSD", at)
    assert next_change("BTCUSD", utc(2026, 12, 5, 12, 0)) is None
    assert last_change("BTCUSD", utc(2026, 12, 5, 12, 0)) is None
    assert str(schedule_for("BTCUSD")) == "24/7"


def test_overrides_per_symbol() -> None:
    overrides = {
        "EURUSD": "Sun 22:00 - Fri 22:00 UTC",  # fixed UTC hours: no DST move
        "btcusd": "Mon 00:00 - Sat 00:00",  # case-insensitive; zone UTC when left out
        "XAUUSD": "24/7",
        "GER40": "Mon 07:00 - Fri 21:00 UTC, break 21:00-07:00",  # a break across midnight
        "US30": "forex",
    }
    assert is_open("EURUSD", utc(2026, 7, 3, 21, 30), overrides)
    assert not is_open("EURUSD", utc(2026, 7, 3, 21, 30))
    assert not is_open("BTCUSD", utc(2026, 12, 6, 12, 0), overrides)
    assert is_open("XAUUSD", utc(2026, 7, 7, 21, 30), overrides)
    assert is_open("GER40", utc(2026, 12, 8, 12, 0), overrides)
    assert not is_open("GER40", utc(2026, 12, 8, 23, 0), overrides)
    assert not is_open("GER40", utc(2026, 12, 9, 6, 59), overrides)
    assert next_change("GER40", utc(2026, 12, 8, 23, 0), overrides) == utc(2026, 12, 9, 7, 0)
    assert is_open("US30", utc(2026, 12, 8, 22, 30), overrides)  # forex: no break
    assert is_open("USDJPY", utc(2026, 12, 8, 22, 30), overrides)  # untouched: its default


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("Sun 25:00 - Fri 17:00", "not a time of day"),
        ("Sun 17:00 - Fri 17:00 Mars/Olympus", "unknown time zone"),
        ("Sun 17:00 - Frx 17:00", "not a weekday"),
        ("weekdays", "expected '24/7'"),
        ("Sun 17:00 - Fri 17:00, pause 1:00-2:00", "is not 'break"),
        ("Sun 17:00 - Fri 17:00, break 01:00-01:00", "no length"),
    ],
)
def test_a_bad_spec_says_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(MarketHoursError, match=says):
        parse_schedule(spec)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_open("EURUSD", datetime(2026, 12, 7, 12, 0))


def test_settings_read_and_check_the_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    from tradealerts.server.settings import Settings

    monkeypatch.setenv("TRADEALERTS_MARKET_HOURS", '{"xauusd": "Sun 23:00 - Fri 21:00 UTC"}')
    assert Settings().market_hours == {"XAUUSD": "Sun 23:00 - Fri 21:00 UTC"}
    monkeypatch.setenv("TRADEALERTS_MARKET_HOURS", '{"XAUUSD": "Sun 23:00 - Fri 21:00 Nowhere"}')
    with pytest.raises(ValueError, match=r"MARKET_HOURS\[XAUUSD\].*unknown time zone"):
        Settings()
