"""The durable event log and its in-process fan-out.

A fired alert is appended (and committed) *before* anyone is told; the bus then only wakes the
user's open streams, which read the log after their last id. So every stream gets every event
exactly once, in order, however it was woken, and a slow stream can always catch up from the
log. Live prices and bars are not logged: they go straight through the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tradealerts.server.db.models import Event
from tradealerts.server.incidents.signals import stamp

__all__ = [
    "AlertFrame",
    "Bus",
    "Subscription",
    "alert_frame",
    "append_event",
    "event_data",
    "event_json",
    "events_after",
    "purge",
    "resume_gap",
    "sse_frame",
]


def append_event(s: Session, ev: Event) -> Event:
    """Add an alert event to the caller's transaction; its id is known after flush."""
    s.add(ev)
    s.flush()
    return ev


def events_after(s: Session, user_id: int, after_id: int, limit: int = 500) -> list[Event]:
    """The user's events with an id above ``after_id``, oldest first."""
    return list(
        s.scalars(
            select(Event)
            .where(Event.user_id == user_id, Event.id > after_id)
            .order_by(Event.id)
            .limit(limit)
        )
    )


def resume_gap(s: Session, after_id: int) -> bool:
    """True when events after ``after_id`` may have been purged by retention."""
    oldest = s.scalar(select(func.min(Event.id)))
    if oldest is None:
        return False
    return bool(after_id < oldest - 1)


def purge(s: Session, now: datetime, days: int) -> int:
    """Delete events older than the retention; returns how many."""
    result = s.execute(delete(Event).where(Event.created_at < now - timedelta(days=days)))
    return int(getattr(result, "rowcount", 0) or 0)


def event_data(
    *,
    id: int,
    alert_id: int | None,
    symbol: str,
    timeframe: str,
    condition: str,
    level: float | None,
    price: float,
    time: datetime,
    message: str,
) -> dict[str, Any]:
    """The ``data:`` of an ``alert`` stream event (and a history row without deliveries)."""
    return {
        "id": id,
        "alert_id": alert_id,
        "symbol": symbol,
        "timeframe": timeframe,
        "condition": condition,
        "level": level,
        "price": price,
        "time": time.isoformat().replace("+00:00", "Z"),
        "message": message,
    }


#: a logged event holds each of ``event_data``'s fields under the same name
_LOGGED = tuple(inspect.signature(event_data).parameters)


def event_json(ev: Event) -> dict[str, Any]:
    """``event_data`` of a logged event."""
    return event_data(**{name: getattr(ev, name) for name in _LOGGED})


def sse_frame(event: str | None, data: Any, event_id: int | None = None) -> str:
    """One Server-Sent Events frame: ``id:``, ``event:``, one ``data:`` line of JSON."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


#: A logged alert ready to send: its id and its whole ``alert`` frame (rendered once for
#: every stream of its user).
AlertFrame = tuple[int, str]


def alert_frame(data: dict[str, Any]) -> AlertFrame:
    """The ``alert`` frame of an ``event_data`` dict."""
    return data["id"], sse_frame("alert", data, data["id"])


@dataclass
class Subscription:
    """One open stream's inbox: a bounded queue; ``overflowed`` when it fell behind."""

    user_id: int
    pairs: frozenset[tuple[str, str]]
    queue: asyncio.Queue[tuple[str, Any]]
    overflowed: bool = False
    #: the server is shutting down: the stream says ``reconnect`` and ends
    closed: bool = False

    def offer(self, item: tuple[str, Any]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # never block the engine for a slow client: it resumes from the log instead
            self.overflowed = True


@dataclass
class Bus:
    """Fan-out to open streams, in the server's event loop."""

    queue_size: int = 1000
    _by_user: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    _subs: dict[int, Subscription] = field(default_factory=dict)
    # only the streams that asked for a symbol are looked at on its ticks
    _by_symbol: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    closed: bool = False

    def subscribe(
        self, user_id: int, pairs: frozenset[tuple[str, str]] = frozenset()
    ) -> Subscription:
        sub = Subscription(user_id, pairs, asyncio.Queue(self.queue_size), closed=self.closed)
        self._subs[id(sub)] = sub
        self._by_user[user_id].add(id(sub))
        for symbol, _tf in pairs:
            self._by_symbol[symbol].add(id(sub))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.pop(id(sub), None)
        self._by_user[sub.user_id].discard(id(sub))
        for symbol, _tf in sub.pairs:
            self._by_symbol[symbol].discard(id(sub))

    def alert(self, user_id: int, frames: list[AlertFrame] | None = None) -> None:
        """Wake the user's streams: new events are in the log. ``frames`` (of the committed
        events, in id order) spare each stream a read of the log."""
        for key in list(self._by_user.get(user_id, ())):
            self._subs[key].offer(("alert", frames))

    def tier(self, user_id: int, tier: str) -> None:
        for key in list(self._by_user.get(user_id, ())):
            self._subs[key].offer(("tier", {"tier": tier}))

    def alerts_changed(self, user_id: int, ids: list[int]) -> None:
        """Some of the user's alerts were created, changed or deleted (committed): their
        open streams say ``alerts_changed`` so each client re-reads them (live only)."""
        keys = list(self._by_user.get(user_id, ()))
        if not keys:
            return
        text = sse_frame("alerts_changed", {"ids": ids})
        for key in keys:
            self._subs[key].offer(("alerts_changed", text))

    def feed(self, text: str) -> None:
        """A symbol's feed state changed (``feed``, rendered once): every open stream gets
        it, whatever its ``symbols=`` (rare: a few a day per symbol; live only)."""
        for sub in list(self._subs.values()):
            sub.offer(("feed", text))

    def market(self, kind: str, symbol: str, timeframe: str | None, data: dict[str, Any]) -> None:
        """A live ``price`` (every timeframe of the symbol) or ``bar`` event."""
        text: str | None = None  # rendered once, for the first stream that wants it
        for key in list(self._by_symbol.get(symbol, ())):
            sub = self._subs[key]
            if timeframe is None or (symbol, timeframe) in sub.pairs:
                if text is None:  # stamped: each stream counts the frame's time to it
                    text = stamp(sse_frame(kind, data))
                sub.offer((kind, text))

    def everyone(self, kind: str, text: str) -> None:
        """A rendered live frame for every open stream of this process (a maintenance
        notice: each process reads notices itself, so this never goes through Redis)."""
        for sub in list(self._subs.values()):
            sub.offer((kind, text))

    def close(self) -> None:
        """End every open stream (and any opened from now on): the server is stopping."""
        self.closed = True
        for sub in list(self._subs.values()):
            sub.closed = True
            with contextlib.suppress(asyncio.QueueFull):  # a full queue wakes it anyway
                sub.queue.put_nowait(("closed", None))

    @property
    def open_streams(self) -> int:
        return len(self._subs)
