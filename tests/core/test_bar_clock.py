"""The bar clock (``core.timeframes.bar_span``): pure properties over UTC, fixed offsets and
zones with a day start, the New-York-close convention's known dates, and its users in core
(resampling, frequency windows)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradealerts.core.alerts.conditions import Frequency
from tradealerts.core.alerts.rules import may_fire, rearm_time, rearm_times, window_start
from tradealerts.core.bars import Bars, resample
from tradealerts.core.timeframes import (
    UTC_CLOCK,
    BarClock,
    BarClockError,
    Timeframe,
    bar_ends,
    bar_span,
    parse_bar_clock,
)

H = 3600
NY = parse_bar_clock("America/New_York@17:00")
CLOCKS = [
    UTC_CLOCK,
    parse_bar_clock("UTC+2"),
    parse_bar_clock("UTC-5"),
    parse_bar_clock("UTC+5:30"),
    NY,
    parse_bar_clock("Europe/Athens"),
    parse_bar_clock("Australia/Sydney@07:00"),
    BarClock.learned("auto", 2 * H, [(1_741_500_000, 3 * H), (1_762_000_000, 2 * H)]),
]
TIMES = st.integers(min_value=1_600_000_000, max_value=1_900_000_000)


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def hhmm(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%a %H:%M")


@settings(max_examples=300, deadline=None)
@given(t=TIMES, clock=st.sampled_from(CLOCKS), tf=st.sampled_from(list(Timeframe)))
def test_a_bar_holds_t_and_the_bars_tile_time(t: int, clock: BarClock, tf: Timeframe) -> None:
    start, end = bar_span(tf, t, clock)
    assert start <= t < end
    assert bar_span(tf, start, clock) == (start, end)  # the open is in its own bar
    assert bar_span(tf, end - 1, clock) == (start, end)  # and so is the last second
    assert bar_span(tf, end, clock)[0] == end  # the next bar opens where this one ends
    assert bar_span(tf, start - 1, clock)[1] == start  # and the one before ends at the open
    # on the clock's own time line the bar opens on its grid; a switch can make it an hour
    # shorter or longer in UTC, never more
    assert (start + clock.offset_at(start)) % tf.seconds == 0 or clock.offset_at(
        start - 1
    ) != clock.offset_at(start)
    assert abs((end - start) - tf.seconds) <= H
    if clock.is_fixed:
        assert end - start == tf.seconds


@settings(max_examples=200, deadline=None)
@given(t=TIMES, clock=st.sampled_from(CLOCKS), tf=st.sampled_from(list(Timeframe)[:4]))
def test_whole_hour_clocks_leave_m5_to_h1_on_the_utc_grid(
    t: int, clock: BarClock, tf: Timeframe
) -> None:
    if clock.name == "UTC+5:30":
        assert bar_span(tf, t, clock)[0] % min(tf.seconds, 1800) == 0
        assert not clock.utc_grid(Timeframe.H1)
        return
    assert clock.utc_grid(tf)
    assert bar_span(tf, t, clock) == (t - t % tf.seconds, t - t % tf.seconds + tf.seconds)


def test_new_york_close_d1_opens_at_22_utc_in_winter_and_21_in_summer() -> None:
    assert hhmm(bar_span(Timeframe.D1, utc("2025-01-15T12:00"), NY)[0]) == "Tue 22:00"
    assert hhmm(bar_span(Timeframe.D1, utc("2025-07-15T12:00"), NY)[0]) == "Mon 21:00"
    # H4 bars: 22, 02, 06… in winter; 21, 01, 05… in summer
    assert hhmm(bar_span(Timeframe.H4, utc("2025-01-15T03:00"), NY)[0]) == "Wed 02:00"
    assert hhmm(bar_span(Timeframe.H4, utc("2025-07-15T03:00"), NY)[0]) == "Tue 01:00"


@pytest.mark.parametrize(
    ("t", "hours"),
    [
        ("2025-03-09T12:00", 23),  # US spring switch: the D1 bar holding it is 23 h
        ("2025-11-02T12:00", 25),  # autumn: 25 h
        ("2025-03-10T12:00", 24),
    ],
)
def test_a_d1_bar_around_a_switch_is_23_or_25_hours(t: str, hours: int) -> None:
    start, end = bar_span(Timeframe.D1, utc(t), NY)
    assert (end - start) // H == hours


def test_the_repeated_hour_belongs_to_the_bar_stamped_with_it_the_first_time() -> None:
    # 2025-11-02 06:00 UTC: New York goes back an hour; server 08:00-09:00 runs twice
    first, second = utc("2025-11-02T05:30"), utc("2025-11-02T06:30")
    assert bar_span(Timeframe.H4, first, NY) == bar_span(Timeframe.H4, second, NY)
    start, end = bar_span(Timeframe.H4, second, NY)
    assert (hhmm(start), hhmm(end)) == ("Sun 05:00", "Sun 10:00")
    local = utc("2025-11-02T08:30")  # server time, naive: its first occurrence
    assert NY.to_utc(local) == first
    # spring: server 09:00-10:00 never happens on 2025-03-09; a stamp in it is the switch
    assert NY.to_utc(utc("2025-03-09T09:30")) == utc("2025-03-09T07:00")
    assert NY.to_utc(utc("2025-03-09T10:00")) == utc("2025-03-09T07:00")


@settings(max_examples=200, deadline=None)
@given(t=TIMES)
def test_to_utc_inverts_the_offset(t: int) -> None:
    for clock in CLOCKS:
        local = t + clock.offset_at(t)
        back = clock.to_utc(local)
        assert back <= t and back + clock.offset_at(back) == local


def test_the_ny_close_clock_is_new_york_plus_7_hours() -> None:
    ny = ZoneInfo("America/New_York")
    for t in range(utc("2024-01-01T00:00"), utc("2027-01-01T00:00"), 7 * 3600 + 13):
        off = datetime.fromtimestamp(t, ny).utcoffset()
        assert off is not None
        assert NY.offset_at(t) == int(off.total_seconds()) + 7 * H


@pytest.mark.parametrize(
    ("text", "name", "offset"),
    [
        ("UTC", "UTC", 0),
        (" utc+2 ", "UTC+2", 7200),
        ("UTC-5", "UTC-5", -18000),
        ("GMT+05:30", "UTC+5:30", 19800),
        ("America/New_York@17:00", "America/New_York@17:00", None),
        ("Europe/Athens", "Europe/Athens@00:00", None),
    ],
)
def test_parse_bar_clock(text: str, name: str, offset: int | None) -> None:
    clock = parse_bar_clock(text)
    assert clock.name == name
    if offset is not None:
        assert clock.is_fixed and clock.offset == offset


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("UTC+15", "UTC-12 to UTC+14"),
        ("UTC-13", "UTC-12 to UTC+14"),
        ("Mars/Olympus", "'Mars/Olympus' is none"),
        ("America/New_York@25:00", "day start like @17:00"),
        ("America/New_York@5pm", "day start like @17:00"),
        ("auto", "needs the MT5 feed"),
        ("", "time zone name"),
    ],
)
def test_a_bad_bar_clock_says_what_is_accepted(text: str, says: str) -> None:
    with pytest.raises(BarClockError) as err:
        parse_bar_clock(text)
    assert says in str(err.value)
    assert "America/New_York@17:00" in str(err.value)


def test_auto_is_accepted_where_a_terminal_decides() -> None:
    assert parse_bar_clock("AUTO", allow_auto=True).name == "auto"


@settings(max_examples=40, deadline=None)
@given(
    start=st.integers(min_value=1_735_000_000, max_value=1_765_000_000),
    n=st.integers(min_value=1, max_value=400),
    target=st.sampled_from([Timeframe.H4, Timeframe.H8, Timeframe.D1]),
)
def test_resample_groups_by_the_clocks_bars(start: int, n: int, target: Timeframe) -> None:
    t = (start - start % H) + H * np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(n)
    close = 1 + rng.random(n)
    bars = Bars(t, close, close + 0.1, close - 0.1, close, np.ones(n))
    out = resample(bars, Timeframe.H1, target, NY)
    opens = sorted({bar_span(target, int(x), NY)[0] for x in t})
    got = [*out.time.tolist(), *([out.forming.time] if out.forming else [])]
    assert got == opens
    for i, o in enumerate(out.time.tolist()):
        inside = [j for j in range(n) if bar_span(target, int(t[j]), NY)[0] == o]
        assert out.volume[i] == len(inside)
        assert out.open[i] == close[inside[0]] and out.close[i] == close[inside[-1]]


def test_once_per_bar_windows_are_the_brokers_bars() -> None:
    t = utc("2025-01-15T21:30")  # the last half hour of Wednesday's broker D1 bar
    assert window_start(Frequency.once_per_bar, Timeframe.D1, t, NY) == utc("2025-01-14T22:00")
    assert rearm_time(Frequency.once_per_bar, Timeframe.D1, t, NY) == utc("2025-01-15T22:00")
    # 22:10 is a new broker day: may fire again; on the UTC grid it would be the same day
    later = utc("2025-01-15T22:10")
    assert may_fire(Frequency.once_per_bar, Timeframe.D1, t, later, NY)
    assert not may_fire(Frequency.once_per_bar, Timeframe.D1, t, later)
    # around the spring switch the D1 window is 23 h long
    sunday = utc("2025-03-09T12:00")
    assert rearm_time(Frequency.once_per_bar, Timeframe.D1, sunday, NY) == utc("2025-03-09T21:00")


@settings(max_examples=400, deadline=None)
@given(
    last=TIMES,
    gap=st.integers(min_value=-3 * 86400, max_value=40 * 86400),
    frac=st.sampled_from([0.0, 0.25, 0.999]),
    clock=st.sampled_from(CLOCKS),
    tf=st.sampled_from(list(Timeframe)),
    freq=st.sampled_from([f for f in Frequency if f != Frequency.once]),
)
def test_an_alert_may_fire_again_exactly_in_a_later_window(
    last: int, gap: int, frac: float, clock: BarClock, tf: Timeframe, freq: Frequency
) -> None:
    """``may_fire`` finds one window (the last fire's) and compares with its end; that is
    the rule "a later window than the last fire's" on every clock (around daylight-saving
    switches too), and the same instant ``rearm_time`` gives. A clock that steps back never
    re-arms."""
    now = last + gap + frac
    later = window_start(freq, tf, now, clock) > window_start(freq, tf, last, clock)  # type: ignore[operator]
    assert may_fire(freq, tf, last, now, clock) == later
    end = rearm_time(freq, tf, last, clock)
    assert end is not None and later == (now >= end)
    for at in (end - 0.001, end, end + 0.25):  # the edge itself, where the two could differ
        expect = window_start(freq, tf, at, clock) > window_start(freq, tf, last, clock)  # type: ignore[operator]
        assert may_fire(freq, tf, last, at, clock) == expect == (at >= end)


@settings(max_examples=200, deadline=None)
@given(
    start=TIMES,
    gaps=st.lists(  # any second, or whole quarter hours (bar edges)
        st.integers(0, 5 * 86400) | st.integers(0, 480).map(lambda q: q * 900),
        min_size=1,
        max_size=40,
    ),
    frac=st.sampled_from([0.0, 0.25, 0.5, 0.999]),
    clock=st.sampled_from(CLOCKS),
    tf=st.sampled_from(list(Timeframe)),
    freq=st.sampled_from(list(Frequency)),
)
def test_the_window_ends_of_many_fires_are_each_ones_rearm_time(
    start: int,
    gaps: list[int],
    frac: float,
    clock: BarClock,
    tf: Timeframe,
    freq: Frequency,
) -> None:
    """A backtest asks ``rearm_times`` (and so ``bar_ends``) for thousands of fires at once:
    each answer is the one ``rearm_time`` (``bar_span``) gives that fire alone, on every
    clock (switches included) and for instants inside a bar and on its edge."""
    t = (start + np.cumsum(gaps)).astype(np.int64)
    fired = t + frac
    ends = rearm_times(freq, tf, fired, clock)
    expect = [rearm_time(freq, tf, float(f), clock) for f in fired.tolist()]
    assert ends.tolist() == [np.inf if e is None else e for e in expect]
    assert bar_ends(tf, t, clock).tolist() == [bar_span(tf, int(x), clock)[1] for x in t]
