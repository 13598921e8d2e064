"""Timeframe names, lengths, MT5 constants and UTC alignment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tradealerts.core.timeframes import Timeframe, TimeframeError, parse_timeframe

MT5 = {"M5": 5, "M15": 15, "M30": 30, "H1": 16385, "H2": 16386, "H4": 16388, "H8": 16392,
       "H12": 16396, "D1": 16408}  # fmt: skip
SECONDS = {"M5": 300, "M15": 900, "M30": 1800, "H1": 3600, "H2": 7200, "H4": 14400,
           "H8": 28800, "H12": 43200, "D1": 86400}  # fmt: skip


@pytest.mark.parametrize("name", list(MT5))
def test_constants(name: str) -> None:
    tf = parse_timeframe(name.lower())
    assert tf.value == name and tf.mt5 == MT5[name] and tf.seconds == SECONDS[name]


@pytest.mark.parametrize("bad", ["H3", "1h", "", "M1", "W1", "h 1"])
def test_parse_refuses_with_the_valid_list(bad: str) -> None:
    with pytest.raises(TimeframeError, match="M5, M15, M30, H1, H2, H4, H8, H12, D1"):
        parse_timeframe(bad)


def test_bar_open_aligned_to_midnight_utc() -> None:
    t = int(datetime(2026, 11, 24, 14, 37, 12, tzinfo=UTC).timestamp())

    def at(h: int, m: int = 0) -> int:
        return int(datetime(2026, 11, 24, h, m, tzinfo=UTC).timestamp())

    assert Timeframe.M5.bar_open(t) == at(14, 35)
    assert Timeframe.H1.bar_open(t) == at(14)
    assert Timeframe.H4.bar_open(t) == at(12)
    assert Timeframe.H8.bar_open(t) == at(8)
    assert Timeframe.H12.bar_open(t) == at(12)
    assert Timeframe.D1.bar_open(t) == at(0)
    assert Timeframe.H4.is_multiple_of(Timeframe.H1)
    assert not Timeframe.H1.is_multiple_of(Timeframe.H4)
    assert not Timeframe.H8.is_multiple_of(Timeframe.M5 if False else Timeframe.H12)
