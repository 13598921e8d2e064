"""Engine and session factories: SQLite with WAL and a busy timeout, or PostgreSQL."""

from __future__ import annotations

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

        return engine
    # 10 kept open (SQLAlchemy's default keeps 5): an API process loads callers from the
    # thread pool, and each connection past the kept ones was opened and closed per burst
    return create_engine(url, pool_pre_ping=True, **pool)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
