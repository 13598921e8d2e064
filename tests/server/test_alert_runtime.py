"""The runtime keeps its book in step with the alerts table, and logs each fire once even
when a commit's answer is lost (a real SQLite file, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from tests.server.serverkit import runtime_with_one_alert

from tradealerts.server.alerts import records
from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.db.models import AlertRow, Event, User
from tradealerts.server.engine.market import MarketState
from tradealerts.server.feeds import Tick

NOW = datetime(2026, 1, 1, tzinfo=UTC)
T0 = NOW.timestamp()


def test_a_row_read_before_a_fire_is_stored_does_not_fire_a_once_alert_again(
    tmp_path: Path,
) -> None:
    db, sessions, runtime, alert_id = runtime_with_one_alert(
        f"sqlite:///{tmp_path / 'server.db'}", tmp_path, "once@example.com", NOW
    )
    assert runtime.load() == 1
    with sessions() as s:  # what a sync pass reads while the fire is on its way to the log
        row = s.get(AlertRow, alert_id)
        assert row is not None
        stale = (records.matcher_alert(row), row.version)
    listen = runtime.listener(MarketState())
    listen(Tick("EURUSD", T0, 1.1, 1.1001), None)  # fires; no running loop: stored at once
    runtime.changed(*stale)  # ...and the sync pass hands its read in afterwards
    listen(Tick("EURUSD", T0 + 1, 1.2, 1.2001), None)
    runtime.sync()  # the committed row (triggered) is still taken
    listen(Tick("EURUSD", T0 + 2, 1.3, 1.3001), None)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 1
        row = s.get(AlertRow, alert_id)
        assert row is not None and row.status == "triggered" and row.fire_count == 1
        # a resume through the API is newer than the fire: taken, and the alert fires again
        owner = s.get(User, row.user_id)
        assert owner is not None
        records.resume_alert(s, owner, row, NOW, WebhookGuard())
        s.commit()
        runtime.changed(records.matcher_alert(row), row.version)
    listen(Tick("EURUSD", T0 + 3, 1.4, 1.4001), None)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 2
    db.dispose()


def test_a_commit_whose_answer_is_lost_is_retried_and_logged_once(db_url: str) -> None:
    """The connection drops after COMMIT reached the database: the runtime cannot tell it
    committed, keeps the batch and writes it again; the batch's key refuses the copy."""
    db, sessions, runtime, alert_id = runtime_with_one_alert(
        db_url, Path("/nonexistent"), "lost@example.com", NOW, frequency="once_per_minute"
    )
    runtime.load()
    lost = [True]

    def answer_lost(session: Session) -> None:
        if lost:  # the first commit after this: the first batch of fires
            lost.clear()
            raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))

    event.listen(sessions, "after_commit", answer_lost)
    listen = runtime.listener(MarketState())
    listen(Tick("EURUSD", T0, 1.1, 1.1001), None)  # fires; committed, but the answer is lost
    assert not lost
    assert runtime.health()["status"] == "retrying" and runtime.health()["waiting"] == 1
    listen(Tick("EURUSD", T0 + 61, 1.2, 1.2001), None)  # fires again; both batches written
    assert runtime.health() == {"status": "ok", "waiting": 0}
    with sessions() as s:
        prices = s.scalars(select(Event.price).order_by(Event.id)).all()
        row = s.get(AlertRow, alert_id)
        assert row is not None
        assert list(prices) == [1.1, 1.2]  # once each, in order
        assert row.fire_count == 2
    db.dispose()
