"""Scale-out feeds start from now: a standby's replay goes on at the bar the wall clock
implies since the first leader began (``FeedOptions.replay_origin``), not at the file's
history again."""

from __future__ import annotations

import asyncio

from tests.server.serverkit import DATA

from tradealerts.server.feeds import BarClose, FeedOptions, create_feed

REPLAY = DATA / "eurusd_h1.csv"


def _first_bar(**opts: object) -> tuple[int, int]:
    """(time of the history's last bar, time of the first bar streamed)."""

    async def run() -> tuple[int, int]:
        feed = create_feed(f"replay:{REPLAY}", FeedOptions(**opts))  # type: ignore[arg-type]
        await feed.start()
        history = await feed.bars(feed.symbols()[0], feed.timeframes(feed.symbols()[0])[0], 5)
        async for event in feed.stream():
            if isinstance(event, BarClose):
                await feed.close()
                return int(history.time[-1]), event.bar.time
        raise AssertionError("nothing streamed")

    return asyncio.run(run())


def test_replay_without_origin_streams_after_its_history() -> None:
    last, first = _first_bar(history_bars=300, replay_speed=0)
    assert first > last
    assert first - last < 4 * 86400  # the next bar (a weekend at most)


def test_replay_with_an_origin_goes_on_where_the_timeline_is() -> None:
    now = 1_800_000_000.0
    # a leader began 10 s ago at 5 bars/s: 50 bars have been streamed since
    last, first = _first_bar(
        history_bars=300, replay_speed=5, replay_origin=now - 10, clock=lambda: now,
        sleep=lambda _s: asyncio.sleep(0),
    )  # fmt: skip
    plain_last, plain_first = _first_bar(history_bars=350, replay_speed=0)
    assert (last, first) == (plain_last, plain_first)  # history holds those 50 bars


def test_replay_at_full_speed_with_an_origin_is_over() -> None:
    # at speed 0 the first leader streamed the whole file at once: one bar is left
    last, first = _first_bar(history_bars=300, replay_speed=0, replay_origin=0.0)
    plain_last, plain_first = _first_bar(history_bars=10**6, replay_speed=0)
    assert (last, first) == (plain_last, plain_first)
