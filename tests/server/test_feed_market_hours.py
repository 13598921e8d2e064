"""The synthetic and replay feeds honour market hours when asked (``FEED_MARKET_HOURS``,
issue #29): no tick of a closed market; by default they tick every day, as before."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.server.replaykit import write_replay

from tradealerts.core.market_hours import is_open
from tradealerts.server.feeds import FeedOptions, Tick, create_feed
from tradealerts.server.settings import Settings

#: Sunday 21:58 UTC in winter: forex opens at 22:00 (17:00 New York)
SUNDAY = int(datetime(2026, 12, 13, 21, 58, tzinfo=UTC).timestamp())


async def no_sleep(_: float) -> None:
    return None


async def ticks(feed, count: int) -> list[Tick]:
    await feed.start()
    out: list[Tick] = []
    try:
        async for ev in feed.stream():
            if isinstance(ev, Tick):
                out.append(ev)
                if len(out) >= count:
                    break
    finally:
        await feed.close()
    return out


def synthetic(**kw: object) -> FeedOptions:
    base: dict[str, object] = dict(
        symbols=("EURUSD", "BTCUSD"), start_time=SUNDAY, history_bars=50, tick_rate=1.0,
        clock_speed=60.0, sleep=no_sleep,
    )  # fmt: skip
    base.update(kw)
    return FeedOptions(**base)  # type: ignore[arg-type]


async def test_synthetic_sends_nothing_while_a_market_is_closed() -> None:
    got = await ticks(create_feed("synthetic", synthetic(market_hours={})), 8)
    # a tick a simulated minute: BTCUSD at 21:59, both from 22:00 on
    first_eur = next(t for t in got if t.symbol == "EURUSD")
    assert first_eur.time == SUNDAY + 120
    assert [t.symbol for t in got[:2]] == ["BTCUSD", "EURUSD"]
    assert all(is_open(t.symbol, datetime.fromtimestamp(t.time, UTC)) for t in got)
    # an override moves the open: EURUSD from 22:03 UTC
    late = await ticks(
        create_feed("synthetic", synthetic(market_hours={"EURUSD": "Sun 22:03 - Fri 22:00 UTC"})),
        8,
    )
    assert next(t for t in late if t.symbol == "EURUSD").time == SUNDAY + 300


async def test_synthetic_ticks_every_day_by_default() -> None:
    got = await ticks(create_feed("synthetic", synthetic()), 4)
    assert [t.symbol for t in got] == ["EURUSD", "BTCUSD"] * 2  # at 21:59 and 22:00


async def test_replay_skips_the_bars_of_a_closed_market(tmp_path: Path) -> None:
    # H1 bars streamed from Thursday 2026-01-01 10:00 UTC, through the weekend, to Sunday
    # 13:00 (before the 22:00 open)
    csv = write_replay(tmp_path / "EURUSD_H1.csv", streamed=76, history=10)

    def feed(**kw: object):
        return create_feed(f"replay:{csv}", FeedOptions(replay_speed=0.0, history_bars=10, **kw))  # type: ignore[arg-type]

    honoured = await ticks(feed(market_hours={}), 10**6)
    every = await ticks(feed(), 10**6)
    saturday = int(datetime(2026, 1, 3, 12, tzinfo=UTC).timestamp())
    assert any(t.time == saturday for t in every)
    assert not any(t.time == saturday for t in honoured)
    assert all(is_open("EURUSD", datetime.fromtimestamp(t.time, UTC)) for t in honoured)
    # Friday 22:00 UTC (17:00 New York) is the last hour: its bar is not sent
    friday_close = int(datetime(2026, 1, 2, 22, tzinfo=UTC).timestamp())
    assert max(t.time for t in honoured) < friday_close
    # streamed: Thursday 10:00 to Friday 21:00 (36 bars, 4 ticks each); the rest is weekend
    assert len(honoured) == 4 * 36


def test_the_setting_reaches_the_feed_options() -> None:
    from tradealerts.server.app import feed_options

    assert feed_options(Settings()).market_hours is None
    on = Settings(feed_market_hours=True, market_hours={"XAUUSD": "24/7"})
    assert feed_options(on).market_hours == {"XAUUSD": "24/7"}
