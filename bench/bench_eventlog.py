"""Event log append on SQLite (WAL), commits included: the bare ORM append with a commit
per event, and the engine's whole fire path (event + alert row + notification) with one
fire per event-loop pass (a commit each) and in bursts (one group commit per pass).
Target: >= 5,000 events/s in bursts. Exits 1 when it is missed."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchkit import Targets, smoke
from tradealerts.core.alerts import AlertCreate, AlertStatus, Condition
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.accounts import create_user
from tradealerts.server.alerts import records
from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.alerts.model import Fired, MatchResult
from tradealerts.server.alerts.runtime import AlertRuntime
from tradealerts.server.db.migrate import upgrade
from tradealerts.server.db.models import Event
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.events import Bus, append_event
from tradealerts.server.settings import Settings

N = smoke(5_000, 500)
TARGET = 5_000


def main() -> None:
    targets = Targets()
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(f"sqlite:///{Path(tmp) / 'server.db'}")
        upgrade(db)
        sessions = make_sessionmaker(db)
        now = datetime.now(UTC)
        with sessions() as s:
            user = create_user(s, "bench@example.com", "correct horse battery", now)
            spec = AlertCreate.model_validate(
                {
                    "symbol": "EURUSD",
                    "timeframe": "H1",
                    "condition": "crossing_up",
                    "level": 1.09,
                    "frequency": "once_per_minute",
                }
            )
            alert_id = records.create_alert(s, user, spec, now, WebhookGuard()).id
            user_id = user.id
            s.commit()

        t0 = time.perf_counter()
        for i in range(N):
            with sessions() as s:
                ev = Event(
                    user_id=user_id,
                    alert_id=alert_id,
                    symbol="EURUSD",
                    timeframe="H1",
                    condition="crossing_up",
                    level=1.09,
                    price=1.09 + i * 1e-6,
                    time=now,
                    message="EURUSD H1 crossed up 1.09000",
                    created_at=now,
                )
                append_event(s, ev)
                s.commit()
        bare = N / (time.perf_counter() - t0)

        runtime = AlertRuntime(
            Settings(home=tmp, secret_key="k" * 40), sessions, Bus(), lambda: now
        )

        runtime.load()  # as the server does: the alert (and its channels) known

        def fire(i: int) -> MatchResult:
            return MatchResult(
                fired=(
                    Fired(
                        alert_id=alert_id,
                        user_id=user_id,
                        symbol="EURUSD",
                        timeframe=Timeframe.H1,
                        condition=Condition.crossing_up,
                        level=1.09,
                        price=1.09 + i * 1e-6,
                        time=now.timestamp() + i,
                        message="EURUSD H1 crossed up 1.09000",
                        status=AlertStatus.active,
                        fire_count=i + 1,
                    ),
                )
            )

        async def run(per_pass: int) -> tuple[float, int]:
            """Events/s until all N are committed (the log writes in a thread of its own, so
            the loop's last yield is not the last commit), and the commits they took."""
            fired, commits = runtime.fired + N, runtime.commits
            t0 = time.perf_counter()
            for i in range(N):
                runtime.record(fire(i))
                if (i + 1) % per_pass == 0:
                    await asyncio.sleep(0)  # the engine yields: the group commit runs
            deadline = time.monotonic() + 120
            while runtime.fired < fired and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            if runtime.fired != fired:
                sys.exit(f"{fired - runtime.fired} of {N} fires not in the log after 120 s")
            return N / (time.perf_counter() - t0), runtime.commits - commits

        single, single_commits = asyncio.run(run(1))
        burst, burst_commits = asyncio.run(run(100))
        db.dispose()
    print(f"event log append, commit each ({N:,} events, SQLite WAL): {bare:,.0f} events/s")
    print(
        f"fire path, one fire per loop pass: {single:,.0f} events/s "
        f"({single_commits:,} commits: fires that come while one is written share the next)"
    )
    print(
        f"fire path, bursts of 100 fires per pass (group commit): {burst:,.0f} events/s "
        f"({burst_commits:,} commits)  "
        + targets.at_least(burst, TARGET, " events/s", "event log bursts")
    )
    targets.exit()


if __name__ == "__main__":
    main()
