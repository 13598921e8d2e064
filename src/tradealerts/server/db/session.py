"""Engine and session factories: SQLite with WAL and a busy timeout, or PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "make_sessionmaker"]


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pool_timeout: float = 30.0
) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a 5 s busy timeout and foreign keys.

    ``pool_timeout``: how long a checkout waits for a free connection before
    ``sqlalchemy.exc.TimeoutError`` (the API answers it 503 with Retry-After; the server
    passes ``db_pool_timeout_seconds``, well under a client's timeout)."""
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # 5 kept open, as SQLAlchemy's default: each SQLite connection keeps its own page
        # cache (2 MiB), filled by the caller loads of many users (bench_memory)
        pool["pool_size"] = min(pool_size, 5)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 5},
            **(pool if path and path != ":memory:" else {}),
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        if path and path != ":memory:":
            _serialise_writes(engine, _write_lock(str(Path(path).resolve())))
        return engine
    # 10 kept open (SQLAlchemy's default keeps 5): an API process loads callers from the
    # thread pool, and each connection past the kept ones was opened and closed per burst
    return create_engine(url, pool_pre_ping=True, **pool)


#: one lock per SQLite file in this process, shared by every engine on it (the API's and
#: the alert log's)
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
_HELD = "tradealerts_write_lock"
#: past this, a writer goes on without the lock and SQLite's busy timeout decides (a
#: thread that writes on two connections at once must not wait for itself forever)
_LOCK_WAIT_SECONDS = 5.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _write_lock(path: str) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.Lock())


def _serialise_writes(engine: Engine, lock: threading.Lock) -> None:
    """Let one write transaction at a time into the SQLite file, queued on a lock.

    SQLite has one writer; the others get SQLITE_BUSY and its busy handler polls with
    sleeps growing to 100 ms. With 60 concurrent creations and the alert log writing, the
    waiters slept past every release: creations took seconds (bench_stream p99 5.9 s) and
    the alert log's commit failed 'database is locked' after 5 s. Waiting on a lock in this
    process wakes the next writer the moment the last one commits. Taken at a
    transaction's first write (reads never wait), released at its end."""

    @event.listens_for(engine, "before_cursor_execute")
    def _take(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.info
        if info.get(_HELD) is not None:
            return
        if not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        if lock.acquire(timeout=_LOCK_WAIT_SECONDS):
            info[_HELD] = lock
        else:
            info[_HELD] = False  # went on without it: nothing to release

    def _release(conn: Any) -> None:
        try:
            info = conn.info
        except NotImplementedError:  # the first connect's ad-hoc proxy holds nothing
            return
        held = info.pop(_HELD, None)
        if held:
            held.release()

    # after the COMMIT/ROLLBACK itself (the "commit" event fires before it); the pool's
    # reset on return rolls back through the same method
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def _commit(dbapi_conn: Any) -> None:
        try:
            do_commit(dbapi_conn)
        finally:
            _release(dbapi_conn)

    def _rollback(dbapi_conn: Any) -> None:
        try:
            do_rollback(dbapi_conn)
        finally:
            _release(dbapi_conn)

    dialect.do_commit = _commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = _rollback  # type: ignore[method-assign,assignment]

    @event.listens_for(engine.pool, "checkin")
    def _checkin(_dbapi: Any, record: Any) -> None:
        if record is not None:
            _release(record)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
