"""Upgrades keep every row: an owner's database from an earlier release comes through every
later migration with its accounts, alerts, events and watchlists whole."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from tradealerts.server.db.migrate import upgrade
from tradealerts.server.db.session import make_engine

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CHILDREN = ("alerts", "events", "watchlist_items", "notifications")


def test_every_row_comes_through_every_later_migration(db_url: str) -> None:
    """On SQLite, batch mode rebuilds ``users`` (0008, 0012): with foreign keys on, dropping
    the old table cascaded to every row that points at a user, and the upgrade emptied them."""
    db = make_engine(db_url)
    upgrade(db, "0007_billing")  # the schema of the release before this session's tables
    with db.begin() as c:
        uid = c.execute(
            text(
                "INSERT INTO users (email, password_hash, tier, is_admin, email_verified, "
                "display_name, bio, theme, chart_style, language, timezone, analytics_opt_in, "
                "marketing_opt_in, totp_enabled, created_at, updated_at) VALUES "
                "('kept@example.com', 'x', 'PRO', false, true, '', '', 'dark', 'candles', "
                "'en', 'UTC', false, false, false, :now, :now) RETURNING id"
            ),
            {"now": NOW},
        ).scalar_one()
        for _ in range(3):
            alert_id = c.execute(
                text(
                    "INSERT INTO alerts (user_id, symbol, timeframe, condition, spec, status, "
                    "fire_count, version, created_at, updated_at) VALUES (:u, 'EURUSD', 'H1', "
                    "'crossing_up', :spec, 'active', 1, 1, :now, :now) RETURNING id"
                ),
                {"u": uid, "now": NOW, "spec": '{"level": 1.1}'},
            ).scalar_one()
            c.execute(
                text(
                    "INSERT INTO events (user_id, alert_id, kind, symbol, timeframe, condition, "
                    "price, time, message, created_at) VALUES (:u, :a, 'alert', 'EURUSD', 'H1', "
                    "'crossing_up', 1.1, :now, 'm', :now)"
                ),
                {"u": uid, "a": alert_id, "now": NOW},
            )
            c.execute(
                text(
                    "INSERT INTO notifications (user_id, kind, title, body, created_at) "
                    "VALUES (:u, 'alert', 't', 'b', :now)"
                ),
                {"u": uid, "now": NOW},
            )
        c.execute(
            text(
                "INSERT INTO watchlist_items (user_id, symbol, timeframe, created_at) "
                "VALUES (:u, 'EURUSD', 'H1', :now)"
            ),
            {"u": uid, "now": NOW},
        )
    before = _counts(db)
    assert before == {
        "users": 1,
        "alerts": 3,
        "events": 3,
        "watchlist_items": 1,
        "notifications": 3,
    }
    upgrade(db)
    assert _counts(db) == before
    if db.dialect.name == "sqlite":
        with db.connect() as c:  # the rebuilt tables still point where they did
            assert c.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def _counts(db: object) -> dict[str, int]:
    with db.connect() as c:  # type: ignore[attr-defined]
        return {
            t: int(c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
            for t in ("users", *CHILDREN)
        }
