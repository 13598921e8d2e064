"""What every matcher shares: its rows, expiry, and turning hits into ``Fired`` events."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Sequence
from heapq import heappop
from typing import NamedTuple

from tradealerts.core.alerts import (
    CHANNEL_CONDITIONS,
    FLOOD_FIRES,
    FLOOD_SECONDS,
    MOVEMENT_CONDITIONS,
    PCT_CONDITIONS,
    REASON_EXPIRED,
    REASON_FLOOD,
    REASON_MAX_FIRES,
    REASON_TRIGGERED,
    AlertStatus,
    Condition,
    default_sentence,
    may_fire,
    message_fields,
    rearm_time,
    render_message,
    status_after_fire,
)
from tradealerts.core.messages import _
from tradealerts.core.symbols import format_price
from tradealerts.core.timeframes import UTC_CLOCK, BarClock, Timeframe
from tradealerts.server.alerts.lines import LineRef
from tradealerts.server.alerts.model import (
    CONDITIONS,
    FREQUENCIES,
    TIMEFRAMES,
    Alert,
    Fired,
    MatchResult,
    StatusChange,
)
from tradealerts.server.alerts.store import Rows

__all__ = ["Hit", "HitList", "Limits", "MatcherBase"]

#: conditions (by code) whose alert on a chosen line ends at its first fire
_CHOSEN_LINE_CODES = frozenset(
    CONDITIONS.index(c) for c in (Condition.line_break, Condition.trendline_break)
)
#: the status after a fire, by frequency code
_STATUS_AFTER = tuple(status_after_fire(f) for f in FREQUENCIES)
#: the matcher's words in a default message's {detail}, said in its owner's language
_DETAIL_WORDS: dict[str, str] = {
    "support": _("support"),
    "resistance": _("resistance"),
    "support trendline": _("support trendline"),
    "resistance trendline": _("resistance trendline"),
    "up": _("up"),
    "down": _("down"),
}


class Hit(NamedTuple):
    """An alert whose condition holds at this event (it fires unless a rule stops it)."""

    alert_id: int
    row: int
    level: float
    price: float
    line: LineRef | None = None
    detail: str = ""


HitList = list[Hit]


class Limits(NamedTuple):
    """An alert's cooldown (seconds, 0: none), max_fires (0: none) and its fire count when
    it was armed; kept only for alerts that have one of the two."""

    cooldown: float
    max_fires: int
    fires_at_arm: int

    @classmethod
    def of(cls, alert: Alert) -> Limits | None:
        spec = alert.spec
        if spec.cooldown is None and spec.max_fires is None:
            return None
        return cls(float(spec.cooldown or 0), spec.max_fires or 0, alert.fires_at_arm)

    def cooling(self, last: float, now: float) -> bool:
        """True while a fire at ``now`` would come sooner than the cooldown allows."""
        return last == last and now - last < self.cooldown


#: ``MatcherBase._refusal``'s answers: the frequency window is spent, a cooldown runs
SPENT, COOLING = 1, 2
_SLACK = 1e-3  # seconds: far above a float's rounding of an epoch time, below any tick gap
#: Sweep the flood guard's memory of quiet alerts after this many fires.
_FLOOD_SWEEP = 4096


class MatcherBase:
    """State shared by the tick and bar halves of a symbol's matcher."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        #: where bars open, for frequency windows (the market's; set on every event)
        self.clock: BarClock = UTC_CLOCK
        self.rows = Rows()
        self._alerts: dict[int, Alert] = {}  # row -> alert (bulk-loaded rows have none)
        self._by_id: dict[int, int] = {}  # alert id -> row
        self._expiry: list[tuple[float, int, int]] = []  # (expires_at, serial, row)
        self._closing: dict[Timeframe, set[int]] = {}  # rows evaluated on closed bars
        self._limits: dict[int, Limits] = {}  # row -> cooldown / max_fires (sparse)
        # alert id -> its fire times within the flood window; by id, not row, so that a
        # resume (a new row) does not forget them
        self._recent: dict[int, deque[float]] = {}
        self._fires_since_sweep = 0

    def _drop(self, row: int) -> None:
        raise NotImplementedError

    def _after_fire(self, row: int, now: float) -> None:
        raise NotImplementedError

    def _end(self, row: int, status: AlertStatus, reason: str, at: float) -> StatusChange:
        rows = self.rows
        change = StatusChange(rows.alert_id[row], rows.user_id[row], status, reason, at)
        self._drop(row)
        return change

    def _expire(self, now: float) -> list[StatusChange]:
        out: list[StatusChange] = []
        heap, rows = self._expiry, self.rows
        while heap and heap[0][0] <= now:
            at, serial, row = heappop(heap)
            if rows.serial[row] == serial and rows.alive[row]:
                out.append(self._end(row, AlertStatus.expired, REASON_EXPIRED, at))
        out.sort(key=lambda c: c.alert_id)
        return out

    def _flooding(self, alert_id: int, last: float, now: float) -> bool:
        """Count a fire at ``now`` (the alert last fired at ``last``, NaN: never); True (and
        not counted) when it would be more than ``FLOOD_FIRES`` within ``FLOOD_SECONDS``.

        Fire times are kept only for alerts that fired twice within the window: with no
        list, at most the last fire is in it (an alert with a frequency window fires at most
        four times in three minutes; only re-arming it floods)."""
        recent = self._recent.get(alert_id)
        if recent is None:
            if not now - last < FLOOD_SECONDS:  # never fired (NaN), or long ago
                return False
            recent = self._recent[alert_id] = deque((last,))
        while recent and recent[0] <= now - FLOOD_SECONDS:
            recent.popleft()
        if len(recent) >= FLOOD_FIRES:
            return True
        recent.append(now)
        self._fires_since_sweep += 1
        if self._fires_since_sweep >= _FLOOD_SWEEP:
            self._fires_since_sweep = 0
            quiet = [k for k, d in self._recent.items() if not d or d[-1] <= now - FLOOD_SECONDS]
            for k in quiet:
                del self._recent[k]
        return False

    def _refusal(self, row: int, tf: Timeframe, now: float) -> int:
        """Why the alert of ``row`` may not fire at ``now`` (the rules every event asks before
        a condition is checked): ``SPENT`` its frequency window, ``COOLING`` its cooldown;
        0 when it may."""
        last = self.rows.last[row]
        if last == last and not may_fire(
            FREQUENCIES[self.rows.freq[row]], tf, last, now, self.clock
        ):
            return SPENT
        limits = self._limits
        return COOLING if limits and row in limits and limits[row].cooling(last, now) else 0

    def next_chance(self, alert_id: int) -> float:
        """The earliest time the alert may fire again, by the rules ``_refusal`` applies (its
        frequency window after the last fire, its cooldown): -inf when it never fired, inf
        when it is gone. A backtest skips the hits before it; ``_refusal`` still decides."""
        row = self._by_id.get(alert_id)
        if row is None:
            return math.inf
        last = self.rows.last[row]
        again = None if last != last else self._again(row, last)
        return -math.inf if again is None else again

    def _again(self, row: int, last: float, end: float | None = None) -> float | None:
        """When the alert of ``row``, last fired at ``last``, may fire again: the end of
        that fire's frequency window (``end`` when known: ``rearm_times``) or of its
        cooldown, whichever is later (None for ``once``: no window)."""
        rows = self.rows
        again = (
            rearm_time(FREQUENCIES[rows.freq[row]], TIMEFRAMES[rows.tf[row]], last, self.clock)
            if end is None
            else end
        )
        limits = self._limits.get(row) if self._limits else None
        if again is None or limits is None:
            return again
        return max(again, last + limits.cooldown)

    def take_hits(
        self,
        alert_id: int,
        when: Sequence[float],
        again: Sequence[float],
        hit: Callable[[int], tuple[float, float, LineRef | None, str]],
        limit: int | None = None,
    ) -> tuple[list[tuple[int, Hit, str]], StatusChange | None]:
        """The hits of one alert at ``when`` (ascending, each as ``hit(j)`` gives its level,
        price, line and detail; ``again[j]``: ``rearm_time`` of ``when[j]``, from
        ``rearm_times``), each taken as an event takes it (expiry, ``_refusal``, the fire,
        ``_count``): the hits it fired at (index, hit, the ``{detail}`` of its default
        sentence: a backtest's alert has no template) and the change that ended it
        (None: still active). For a backtest
        that found an alert's hits at once (``backtest_hits``): after a fire, the hits before
        its next chance (the window's end, the cooldown's) are refused for sure and skipped;
        within a float's rounding of it, ``_refusal`` decides. Stops after ``limit`` fires."""
        row = self._by_id.get(alert_id)
        fired: list[tuple[int, Hit, str]] = []
        if row is None:
            return fired, None
        rows, heap = self.rows, self._expiry
        tf, cond = TIMEFRAMES[rows.tf[row]], CONDITIONS[rows.cond[row]]
        j, count, chance = 0, len(when), self.next_chance(alert_id)
        changed: list[StatusChange] = []
        said: dict[str, str] = {}  # the detail of each word (its line's kind, a side)
        while j < count:
            now = when[j]
            if heap and heap[0][0] <= now:
                for change in self._expire(now):
                    if change.alert_id == alert_id:
                        return fired, change
            if now < chance and self._refusal(row, tf, now):
                j += 1
                continue
            level, price, line, detail = hit(j)
            one = Hit(alert_id, row, level, price, line, detail)
            status = self._count(one, now, changed)
            if status is None:  # the flood guard paused it
                return fired, changed[0]
            word = detail if line is None else line.label
            words = said.get(word)
            if words is None:
                words = said[word] = self._detail(row, cond, one)
            fired.append((j, one, words))
            if status[0] == AlertStatus.triggered:
                return fired, self._end(row, status[0], status[1], now)
            if limit is not None and len(fired) >= limit:
                break
            next_at = self._again(row, now, again[j])
            chance = math.inf if next_at is None else next_at
            # a float's last bit never skips a hit the rules would take
            j = bisect_left(when, chance - _SLACK, j + 1)
        return fired, None

    def _count(
        self, hit: Hit, now: float, changed: list[StatusChange]
    ) -> tuple[AlertStatus, str] | None:
        """Count a fire of ``hit``'s alert at ``now``: its status and reason after it, or None
        when the flood guard paused it instead (its change added to ``changed``)."""
        rows, row = self.rows, hit.row
        if self._flooding(hit.alert_id, rows.last[row], now):
            changed.append(self._end(row, AlertStatus.paused, REASON_FLOOD, now))
            return None
        rows.last[row] = now
        rows.count[row] += 1
        status = _STATUS_AFTER[rows.freq[row]]
        reason = REASON_TRIGGERED
        if rows.cond[row] in _CHOSEN_LINE_CODES:
            alert = self._alerts.get(row)
            if alert is not None and alert.spec.line_id:
                status = AlertStatus.triggered  # a chosen line breaks only once
        limits = self._limits.get(row) if self._limits else None
        if (
            limits is not None
            and limits.max_fires
            and rows.count[row] - limits.fires_at_arm >= limits.max_fires
            and status != AlertStatus.triggered
        ):
            status, reason = AlertStatus.triggered, REASON_MAX_FIRES
        return status, reason

    def _commit(self, hits: HitList, now: float, changed: list[StatusChange]) -> MatchResult:
        """Fire the hits in alert-id order; ``once`` alerts end as triggered, alerts that
        reach ``max_fires`` too, and one that would flood is paused instead of firing."""
        hits.sort()
        rows = self.rows
        fired: list[Fired] = []
        for hit in hits:
            row = hit.row
            counted = self._count(hit, now, changed)
            if counted is None:
                continue
            status, reason = counted
            tf = TIMEFRAMES[rows.tf[row]]
            fired.append(
                Fired(
                    alert_id=hit.alert_id,
                    user_id=rows.user_id[row],
                    symbol=self.symbol,
                    timeframe=tf,
                    condition=CONDITIONS[rows.cond[row]],
                    level=hit.level,
                    price=hit.price,
                    time=now,
                    message=self._message(row, self._alerts.get(row), hit, tf, now),
                    status=status,
                    fire_count=rows.count[row],
                    line_id=None if hit.line is None else hit.line.line_id,
                )
            )
            if status == AlertStatus.triggered:
                changed.append(self._end(row, status, reason, now))
            else:
                self._after_fire(row, now)
        changed.sort(key=lambda c: c.alert_id)
        return MatchResult(tuple(fired), tuple(changed))

    def _message(self, row: int, alert: Alert | None, hit: Hit, tf: Timeframe, now: float) -> str:
        cond = CONDITIONS[self.rows.cond[row]]
        template = alert.spec.message if alert is not None else None
        detail = self._detail(row, cond, hit)
        if not template:  # the common case: no fields dict, no time text (never said)
            return default_sentence(cond, self.symbol, tf.value, hit.price, hit.level, detail)
        fields = message_fields(
            symbol=self.symbol,
            timeframe=tf.value,
            condition=cond.value,
            price=hit.price,
            level=hit.level,
            time=now,
            detail=detail,
        )
        return render_message(template, fields)

    def _detail(self, row: int, cond: Condition, hit: Hit) -> str:
        # a Text where words are the matcher's (translated with the message)
        a, b = self.rows.a[row], self.rows.b[row]
        if cond in CHANNEL_CONDITIONS:
            return f"{format_price(self.symbol, a)}–{format_price(self.symbol, b)}"
        if cond in MOVEMENT_CONDITIONS:
            size = f"{a:g}%" if cond in PCT_CONDITIONS else format_price(self.symbol, a)
            count = int(b)
            if count == 1:
                return _("{size} within {count} bar", size=size, count=count)
            return _("{size} within {count} bars", size=size, count=count)
        word = hit.line.label if hit.line is not None else hit.detail
        return _DETAIL_WORDS.get(word, word)
