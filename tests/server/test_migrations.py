"""Upgrades keep every row: an owner's database from an earlier release comes through every
later migration with its accounts, alerts, events and watchlists whole."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import text

from tradealerts.server.db.migrate import current, head, shipped_head, upgrade
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


def test_stored_text_with_control_characters_is_cleaned(db_url: str) -> None:
    """0014: alerts, support tickets and profiles written before the control-character rule
    (issue #22) are cleaned: line breaks become spaces (kept in a ticket's body), the rest
    U+FFFD. PostgreSQL cannot hold a NUL in a text column, so that one is SQLite's case (and
    every database's inside an alert's JSON spec)."""
    import json

    db = make_engine(db_url)
    upgrade(db, "0013_ingest_received_at")
    nul = "\x00" if db.dialect.name == "sqlite" else "\x01"
    with db.begin() as c:
        uid = c.execute(
            text(
                "INSERT INTO users (email, password_hash, tier, is_admin, email_verified, "
                "display_name, bio, theme, chart_style, language, timezone, analytics_opt_in, "
                "marketing_opt_in, totp_enabled, disabled, alert_bell, created_at, updated_at) "
                "VALUES ('old@example.com', 'x', 'FREE', false, true, :name, :bio, 'dark', "
                "'candles', 'en', 'UTC', false, false, false, false, true, :now, :now) "
                "RETURNING id"
            ),
            {"now": NOW, "name": "Eve\u2028Bcc", "bio": f"line one\nline{nul}two"},
        ).scalar_one()
        spec = {"level": 1.1, "message": "x\u0000y\r\nz {{price}}", "frequency": "once"}
        c.execute(
            text(
                "INSERT INTO alerts (user_id, name, symbol, timeframe, condition, spec, status, "
                "fire_count, fires_at_arm, version, created_at, updated_at) VALUES (:u, 'a1', "
                "'EURUSD', 'H1', 'greater_than', :spec, 'active', 0, 0, 1, :now, :now)"
            ),
            {"u": uid, "now": NOW, "spec": json.dumps(spec)},
        )
        c.execute(
            text(
                "INSERT INTO support_tickets (user_id, subject, body, status, created_at) "
                "VALUES (:u, :subject, :body, 'open', :now)"
            ),
            {"u": uid, "now": NOW, "subject": "help\r\nBcc: x@example.com",
             "body": f"first\nsecond{nul}\u2029third"},
        )  # fmt: skip
    upgrade(db)
    with db.connect() as c:
        name, bio = c.execute(text("SELECT display_name, bio FROM users")).one()
        raw = c.execute(text("SELECT spec FROM alerts")).scalar_one()
        subject, body = c.execute(text("SELECT subject, body FROM support_tickets")).one()
        assert c.execute(text("SELECT quarantined_at FROM mail_queue")).all() == []
    stored = raw if isinstance(raw, dict) else json.loads(raw)
    assert (name, bio) == ("Eve Bcc", "line one\nline\ufffdtwo")
    assert stored["message"] == "x\ufffdy  z {{price}}" and stored["level"] == 1.1
    assert subject == "help  Bcc: x@example.com"
    assert body == "first\nsecond\ufffd third"
    db.dispose()


def test_the_newest_file_is_alembic_s_head_and_a_current_database_skips_alembic(
    db_url: str,
) -> None:
    """The server skips alembic when the database is at ``shipped_head()`` (the newest
    file's name): that must be the head of alembic's own chain (one line of revisions, each
    file named after its revision), and a start on a current database must not load it."""
    assert shipped_head() == head()
    engine = make_engine(db_url)
    upgrade(engine)
    assert current(engine) == shipped_head()
    engine.dispose()
    probe = (
        "import sys\n"
        "from tradealerts.server.db.migrate import upgrade\n"
        "from tradealerts.server.db.session import make_engine\n"
        f"upgrade(make_engine({db_url!r}))\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_an_empty_database_upgraded_is_what_the_models_say(db_url: str) -> None:
    """The migrations and the models describe one schema: alembic's own comparison of an
    empty database brought to head (through ``db/ddl.py``'s shared columns and indexes)
    with ``Base.metadata`` (its mixin of a user's rows) finds nothing, types included."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tradealerts.server.db.models import Base

    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
