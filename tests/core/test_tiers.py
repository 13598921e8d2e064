"""Tier numbers and refusals, checked against the product plan's table."""

from __future__ import annotations

import pytest

from tradealerts.core.tiers import (
    ALL_SYMBOLS,
    TIERS,
    AccessDenied,
    Tier,
    UnknownSymbol,
    check_pair,
    check_symbol,
    check_timeframe,
    limits_for,
    required_tier,
)
from tradealerts.core.timeframes import Timeframe

FREE_SYMBOLS = {"BTCUSD", "EURUSD", "USDJPY", "US30", "XAUUSD"}
PRO_SYMBOLS = FREE_SYMBOLS | {
    "AUDJPY", "AUDUSD", "ETHUSD", "GBPJPY", "GBPUSD", "NDX100", "NZDUSD", "USDCAD", "USDCHF",
    "XAGUSD",
}  # fmt: skip


def test_the_plan_table() -> None:
    free, pro = TIERS[Tier.FREE], TIERS[Tier.PRO]
    assert free.symbols == FREE_SYMBOLS and pro.symbols == PRO_SYMBOLS
    assert {str(t) for t in free.timeframes} == {"H1", "H4", "D1"}
    assert {str(t) for t in pro.timeframes} == {
        "M5", "M15", "M30", "H1", "H2", "H4", "H8", "H12", "D1"
    }  # fmt: skip
    assert (free.watchlist_items, pro.watchlist_items) == (5, 50)
    assert (free.active_alerts, pro.active_alerts) == (5, 20)
    assert (free.requests_per_hour, pro.requests_per_hour) == (60, 300)
    assert (free.price_usd_per_month, pro.price_usd_per_month) == (0, 29)
    assert list(ALL_SYMBOLS) == sorted(PRO_SYMBOLS)
    assert limits_for("PRO") is pro


@pytest.mark.parametrize("symbol", sorted(PRO_SYMBOLS))
@pytest.mark.parametrize("tf", [t.value for t in Timeframe])
def test_every_pair_for_both_tiers(symbol: str, tf: str) -> None:
    free_ok = symbol in FREE_SYMBOLS and tf in {"H1", "H4", "D1"}
    assert required_tier(symbol, tf) == (Tier.FREE if free_ok else Tier.PRO)
    assert check_pair(Tier.PRO, symbol.lower(), tf.lower()) == (symbol, Timeframe(tf))
    if free_ok:
        assert check_pair(Tier.FREE, symbol, tf) == (symbol, Timeframe(tf))
    else:
        with pytest.raises(AccessDenied) as err:
            check_pair(Tier.FREE, symbol, tf)
        assert err.value.required is Tier.PRO
        assert "PRO" in err.value.message


def test_refusals_say_what_is_missing() -> None:
    with pytest.raises(
        AccessDenied, match=r"GBPUSD is not included in the FREE plan; it needs PRO"
    ):
        check_symbol("FREE", "gbpusd")
    with pytest.raises(AccessDenied, match=r"M5 timeframe is not included in the FREE plan"):
        check_timeframe(Tier.FREE, "m5")
    with pytest.raises(
        AccessDenied, match=r"GBPUSD M5 .*\(GBPUSD and the M5 timeframe\); it needs PRO"
    ):
        check_pair(Tier.FREE, "GBPUSD", "M5")


def test_unknown_symbol() -> None:
    with pytest.raises(UnknownSymbol, match="Unknown symbol 'DOGEUSD'"):
        check_symbol(Tier.PRO, "DOGEUSD")
