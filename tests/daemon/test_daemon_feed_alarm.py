"""The daemon's feed alarm (issue #29) on its own: which feed states raise a notice. The
notices go to a list instead of a desktop (tests/daemon/test_daemon_feed_state.py shows them
on a real one); the timer is asyncio's, with a threshold the test either waits for or never
reaches."""

from __future__ import annotations

import asyncio

from tradealerts.daemon.feedwatch import FeedAlarm
from tradealerts.daemon.notify import Notice


def item(symbol: str, state: str) -> dict[str, str]:
    return {"symbol": symbol, "state": state, "since": "2026-12-09T12:00:00Z"}


async def test_a_short_delay_or_a_closed_market_raises_nothing() -> None:
    shown: list[Notice] = []

    async def show(n: Notice) -> None:
        shown.append(n)

    alarm = FeedAlarm(3600.0, show)
    alarm.on_feed(item("EURUSD", "delayed"))
    assert "EURUSD" in alarm._pending  # waiting for the threshold
    alarm.on_feed(item("EURUSD", "live"))  # back before it: nothing, nothing waiting
    alarm.on_feed(item("XAUUSD", "delayed"))
    alarm.on_feed(item("XAUUSD", "closed"))  # the market closed: not an outage
    await asyncio.sleep(0)  # a cancelled timer ends on the loop's next turn
    mine = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not mine and not t.done()] == []
    assert alarm._pending == {} and shown == []
    alarm.close()


async def test_one_notice_down_one_back_and_only_watched_symbols() -> None:
    shown: list[Notice] = []
    got = asyncio.Event()

    async def show(n: Notice) -> None:
        shown.append(n)
        got.set()

    alarm = FeedAlarm(0.0, show)
    alarm.set_watchlist(["eurusd"])
    alarm.on_feed(item("BTCUSD", "delayed"))  # not watched
    alarm.on_feed(item("EURUSD", "delayed"))
    await asyncio.wait_for(got.wait(), 10)
    alarm.on_feed(item("EURUSD", "delayed"))  # still down: no second notice
    await asyncio.gather(*alarm._pending.values())  # (a second timer would show it here)
    assert len(shown) == 1
    got.clear()
    alarm.on_feed(item("EURUSD", "live"))
    await asyncio.wait_for(got.wait(), 10)
    assert shown[0].title.startswith("tradealerts: EURUSD data delayed since ")
    assert [n.title for n in shown[1:]] == ["tradealerts: EURUSD data is back"]
    alarm.on_feed(item("EURUSD", "live"))  # live again: no second "back"
    await asyncio.sleep(0)
    assert len(shown) == 2
    alarm.close()
