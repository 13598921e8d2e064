"""Usage and error records for the owner's dashboard, at the cost of a dict lookup per request.

Every request adds one to a per-minute aggregate kept in memory, keyed by (minute, route
family, user id): counts by status class and a latency histogram (time to the response's
first byte, so a stream counts its set-up, not its life). ``flush`` writes the aggregate to
``usage_minutes`` (the server does it every ``usage_flush_seconds`` and at shutdown; the admin
routes flush first so they answer with the current minute too). The caller's tier is looked
up at flush time, once per user, not per request.

5xx answers and unhandled exceptions become ``error_records`` rows, grouped by a fingerprint
of the exception type and its traceback's frames (file and function, not line numbers, so a
fix elsewhere in a file does not split a group).

Scaled out (a Redis URL is set), each process pushes its aggregate to Redis every
``usage_push_seconds`` instead: one hash a minute, counters added with HINCRBY, so every
process's requests meet in one place within a second. Every ``usage_flush_seconds`` (and
before an admin route answers) whichever process gets there first claims each minute's hash by
RENAME, an atomic step only one process can win, writes it to ``usage_minutes`` and deletes
the claim; a failed database write adds the claim back. Redis down: the aggregate goes
straight to the database, as without Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import traceback
import uuid
from bisect import bisect_left
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Message, Receive, Scope, Send

from tradealerts.core.messages import _
from tradealerts.server.errors import HttpMiddleware, error_response, request_id

__all__ = ["LATENCY_BUCKETS", "Usage", "UsageMiddleware", "fingerprint", "quantile"]

log = logging.getLogger("tradealerts.api")

#: Upper bounds (seconds) of the latency histogram; a last bucket holds the slower ones.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: Order of the status counters in an aggregate row: 2xx, 3xx, 4xx (not 429), 429, 5xx.
STATUS_CLASSES = ("s2xx", "s3xx", "s4xx", "s429", "s5xx")
_NS = len(STATUS_CLASSES)
_NB = len(LATENCY_BUCKETS) + 1
_WIDTH = _NS + _NB + 1  # the last slot: the sum of latencies (seconds), for /metrics


def _status_slot(status: int) -> int:
    if status == 429:
        return 3
    if status >= 500:
        return 4
    if status >= 400:
        return 2
    return 1 if status >= 300 else 0


_SLOTS = {code: _status_slot(code) for code in (200, 201, 204, 304, 400, 401, 403, 404, 422, 429)}


def fingerprint(exc_type: str, tb: traceback.StackSummary | None) -> str:
    """16 hex digits naming a fault: its type and the frames it went through."""
    h = hashlib.sha1(exc_type.encode(), usedforsecurity=False)
    for frame in tb or ():
        h.update(f"|{frame.filename.rsplit('/', 1)[-1]}:{frame.name}".encode())
    return h.hexdigest()[:16]


def quantile(hist: Iterable[int], q: float) -> float | None:
    """The upper bound (ms) of the bucket holding quantile ``q``; None without samples.
    Above the last bound it answers that bound (the histogram knows no more)."""
    counts = list(hist)
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(counts):
        seen += n
        if seen >= rank and n:
            bound = LATENCY_BUCKETS[min(i, len(LATENCY_BUCKETS) - 1)]
            return round(bound * 1000, 3)
    return round(LATENCY_BUCKETS[-1] * 1000, 3)


class Usage:
    """The in-memory aggregate, its flush to the database, and pending error records."""

    def __init__(
        self,
        families: set[str],
        *,
        flush_seconds: float = 10.0,
        usage_retention_days: int = 90,
        error_retention_days: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        redis_url: str | None = None,
        redis_prefix: str = "tradealerts",
        push_seconds: float = 1.0,
    ) -> None:
        self.families = families
        self.flush_seconds = flush_seconds
        self.redis_url = redis_url
        self._key = f"{redis_prefix}:usage:"
        self.push_seconds = push_seconds
        self._redis: Any = None
        self.usage_retention_days = usage_retention_days
        self.error_retention_days = error_retention_days
        self.clock = clock
        self.sessions: sessionmaker[Session] | None = None
        self._rows: dict[tuple[int, str, int], list[Any]] = {}
        self._errors: list[dict[str, Any]] = []
        #: since start, for /metrics: (family, status slot) -> count, family -> histogram
        self.totals: dict[tuple[str, int], int] = {}
        self.latency: dict[str, list[Any]] = {}  # histogram counts, then the sum
        self._lock = asyncio.Lock()
        self._wall = time.time() - time.perf_counter()
        self._task: asyncio.Task[None] | None = None

    def family(self, path: str) -> str:
        """``/api/alerts/12`` -> ``alerts``; a path no route owns -> ``other``."""
        if path.startswith("/api/"):
            name = path[5:].split("/", 1)[0]
            return name if name in self.families else "other"
        return "metrics" if path == "/metrics" else "pages"

    def record(self, family: str, user_id: int, status: int, t0: float, t1: float) -> None:
        """Count one request that started at ``t0`` and answered at ``t1`` (perf_counter
        readings): the hot path, a dict lookup and three increments. The minute comes from
        perf_counter and an offset taken at start, because time.time() cost 0.4-0.6 µs a call
        on the shared test machine against 0.1 µs for perf_counter."""
        key = (int(t1 + self._wall) // 60, family, user_id)
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = [0] * _WIDTH
        row[_SLOTS[status] if status in _SLOTS else _status_slot(status)] += 1
        seconds = t1 - t0
        row[_NS + bisect_left(LATENCY_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def error(
        self,
        *,
        method: str,
        route: str,
        status: int,
        user_id: int | None,
        exc: BaseException | None = None,
        exc_type: str = "",
        message: str = "",
    ) -> None:
        """Keep one 5xx or unhandled exception until the next flush."""
        tb = traceback.extract_tb(exc.__traceback__) if exc is not None else None
        if exc is not None:
            exc_type = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
            message = str(exc)
        self._errors.append(
            {
                "created_at": self.clock(),
                "request_id": request_id.get(),
                "method": method[:8],
                "route": route[:200],
                "status": status,
                "user_id": user_id,
                "exc_type": exc_type[:200],
                # the first line only: a database error's later lines carry the SQL and values
                "message": (message.splitlines() or [""])[0][:1000],
                "fingerprint": fingerprint(exc_type, tb),
                "traceback": "".join(traceback.format_list(tb))[-8000:] if tb else "",
            }
        )

    def _take(self) -> tuple[dict[tuple[int, str, int], list[Any]], list[dict[str, Any]]]:
        rows, self._rows = self._rows, {}
        errors, self._errors = self._errors, []
        for (_m, fam, _u), row in rows.items():
            for slot in range(_NS):
                if row[slot]:
                    self.totals[(fam, slot)] = self.totals.get((fam, slot), 0) + row[slot]
            hist = self.latency.setdefault(fam, [0] * (_WIDTH - _NS))
            for i, n in enumerate(row[_NS:]):
                hist[i] += n
        return rows, errors

    def current_totals(self) -> tuple[dict[tuple[str, int], int], dict[str, list[Any]]]:
        """Counts since start including the unflushed minute (for /metrics)."""
        totals = dict(self.totals)
        latency = {k: list(v) for k, v in self.latency.items()}
        for (_m, fam, _u), row in list(self._rows.items()):
            for slot in range(_NS):
                totals[(fam, slot)] = totals.get((fam, slot), 0) + row[slot]
            hist = latency.setdefault(fam, [0] * (_WIDTH - _NS))
            for i, n in enumerate(row[_NS:]):
                hist[i] += n
        return totals, latency

    async def flush(self, *, rollup: bool = True) -> None:
        """Write what is in memory to the database, or push it to Redis and (``rollup``)
        move every process's pushed minutes to the database. One flush at a time."""
        async with self._lock:
            rows, errors = self._take()  # on the event loop: no request counts in between
            if self.sessions is None or not (rows or errors or self.redis_url):
                return
            try:
                await asyncio.to_thread(self._flush, rows, errors, rollup)
            except Exception:
                log.exception("usage: flush failed; %d rows dropped", len(rows))

    def _flush(
        self,
        rows: dict[tuple[int, str, int], list[Any]],
        errors: list[dict[str, Any]],
        rollup: bool,
    ) -> None:
        if self.redis_url and rows:
            try:
                self._push(rows)
                rows = {}
            except Exception as exc:  # Redis down: the database takes them, as without Redis
                log.warning("usage: could not push to Redis (%s); writing to the database", exc)
        if rows or errors:
            self._write(rows, errors)
        if self.redis_url and rollup:
            try:
                self._rollup()
            except Exception as exc:
                log.warning("usage: could not move Redis minutes to the database (%s)", exc)

    def _client(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(str(self.redis_url), socket_timeout=2)
        return self._redis

    def _push(self, rows: dict[tuple[int, str, int], list[Any]]) -> None:
        """Add ``rows`` to the per-minute hashes (fields ``family|user|slot``)."""
        pipe = self._client().pipeline(transaction=False)
        for minute in {m for (m, _f, _u) in rows}:
            pipe.expire(f"{self._key}{minute}", 7 * 86400)  # an orphan does not stay forever
        for (minute, fam, uid), row in rows.items():
            key = f"{self._key}{minute}"
            for i, n in enumerate(row[:-1]):
                if n:
                    pipe.hincrby(key, f"{fam}|{uid}|{i}", n)
            pipe.hincrbyfloat(key, f"{fam}|{uid}|sum", row[-1])
        pipe.execute()

    def _rollup(self) -> None:
        """Claim each pushed minute (RENAME: one process wins it) and write it to the
        database; on a failed write, add the claim back to its minute."""
        from redis.exceptions import ResponseError

        r = self._client()
        for raw in list(r.scan_iter(match=f"{self._key}[0-9]*", count=500)):
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            if ":claim:" in key:
                continue
            claim = f"{key}:claim:{uuid.uuid4().hex}"
            try:
                r.rename(key, claim)
            except ResponseError:  # "no such key": another process claimed it first
                continue
            fields = r.hgetall(claim)
            rows = _rows_of(int(key.rsplit(":", 1)[1]), fields)
            try:
                self._write(rows, [])
            except Exception:
                pipe = r.pipeline(transaction=True)
                for field, value in fields.items():
                    if (field.decode() if isinstance(field, bytes) else field).endswith("|sum"):
                        pipe.hincrbyfloat(key, field, float(value))
                    else:
                        pipe.hincrby(key, field, int(value))
                pipe.delete(claim)
                pipe.execute()
                raise
            r.delete(claim)

    def _write(
        self, rows: dict[tuple[int, str, int], list[Any]], errors: list[dict[str, Any]]
    ) -> None:
        from tradealerts.server.db.models import ErrorRecord, UsageMinute, User

        if self.sessions is None:
            return
        now = self.clock()
        with self.sessions() as s:
            ids = {u for (_m, _f, u) in rows if u}
            tiers = dict(s.execute(select(User.id, User.tier).where(User.id.in_(ids))).all())
            for (minute, fam, uid), row in rows.items():
                s.add(
                    UsageMinute(
                        minute=datetime.fromtimestamp(minute * 60, UTC),
                        family=fam,
                        user_id=uid,
                        tier=tiers.get(uid, "") if uid else "",
                        requests=sum(row[:_NS]),
                        **dict(zip(STATUS_CLASSES, row[:_NS], strict=True)),
                        latency=row[_NS:-1],
                    )
                )
            for e in errors:
                s.add(ErrorRecord(**e))
            s.execute(
                delete(UsageMinute).where(
                    UsageMinute.minute < now - timedelta(days=self.usage_retention_days)
                )
            )
            s.execute(
                delete(ErrorRecord).where(
                    ErrorRecord.created_at < now - timedelta(days=self.error_retention_days)
                )
            )
            s.commit()

    def start(self, sessions: sessionmaker[Session]) -> None:
        """Flush every ``flush_seconds`` until ``stop``."""
        self.sessions = sessions

        async def loop() -> None:
            # without Redis every pass writes to the database; with it, passes push and
            # every flush_seconds one also moves the pushed minutes to the database
            every = min(self.push_seconds, self.flush_seconds) if self.redis_url else None
            next_rollup = time.monotonic() + self.flush_seconds
            while True:
                await asyncio.sleep(every or self.flush_seconds)
                due = time.monotonic() >= next_rollup
                if due:
                    next_rollup = time.monotonic() + self.flush_seconds
                await self.flush(rollup=due)

        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


def _rows_of(minute: int, fields: dict[Any, Any]) -> dict[tuple[int, str, int], list[Any]]:
    """A pushed minute's hash back into aggregate rows."""
    rows: dict[tuple[int, str, int], list[Any]] = {}
    for raw, value in fields.items():
        field = raw.decode() if isinstance(raw, bytes) else str(raw)
        fam, uid, slot = field.rsplit("|", 2)
        row = rows.setdefault((minute, fam, int(uid)), [0] * _WIDTH)
        if slot == "sum":
            row[-1] += float(value)
        else:
            row[int(slot)] += int(value)
    return rows


def caller_id(scope: Scope) -> int:
    """The user id of the request's bearer token, 0 if none or not valid (no query: the
    token cache verifies it, and remembers it for the next request)."""
    from tradealerts.server.security import TokenError

    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            if value[:7].lower() != b"bearer ":
                return 0
            state = scope["app"].state
            try:
                return int(
                    state.callers.user_id(
                        state.signing_key, value[7:].strip().decode("latin-1"), state.clock()
                    )
                )
            except (TokenError, ValueError, AttributeError):
                return 0
    return 0


class UsageMiddleware(HttpMiddleware):
    """Counts every request the indicators fast path did not answer, records 5xx answers
    and unhandled exceptions, and turns the latter into the documented 500 body inside the
    request id middleware (so the client gets the ``X-Request-ID`` the record carries)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        usage: Usage = scope["app"].state.usage
        t0 = time.perf_counter()
        first_byte = 0.0
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status, first_byte
            if message["type"] == "http.response.start":
                status = message["status"]
                first_byte = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except Exception as exc:
            uid = caller_id(scope)
            usage.error(
                method=scope["method"], route=_route(scope), status=500, user_id=uid or None,
                exc=exc,
            )  # fmt: skip
            if first_byte:
                raise  # the answer has begun: nothing else can be sent
            log.exception("unexpected error (request %s)", request_id.get())
            response = error_response(
                500,
                "internal_error",
                _(
                    "Something went wrong on the server; it has been logged. Quote the "
                    "request id if you contact support."
                ),
            )
            await response(scope, receive, send_status)
            usage.record(usage.family(scope["path"]), uid, 500, t0, first_byte)
            return
        uid = caller_id(scope)
        if status >= 500:
            noted = scope.get("state", {}).get("api_error", ("", ""))
            usage.error(
                method=scope["method"], route=_route(scope), status=status, user_id=uid or None,
                exc_type=noted[0] or f"HTTP {status}", message=noted[1],
            )  # fmt: skip
        usage.record(usage.family(scope["path"]), uid, status, t0, first_byte or t0)


def _route(scope: Scope) -> str:
    """The route's template (``/api/alerts/{alert_id}``) when one matched, else the path."""
    path = getattr(scope.get("route"), "path", None)
    if not path:
        return str(scope["path"])
    # an included router's route knows its path without the include prefix (/api)
    if scope["path"].startswith("/api/") and not str(path).startswith("/api"):
        return f"/api{path}"
    return str(path)
