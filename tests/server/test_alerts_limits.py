"""Cooldown, max_fires and health through the real path (a replay with known fires, the API),
and the flood guard through the runtime on a real SQLite file (pause + notification)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tests.server.replaykit import every_bar, prepare, replay_server, wait_replay_done, write_replay
from tests.server.serverkit import Running, runtime_with_one_alert

from tradealerts.core.alerts import AlertCreate
from tradealerts.server.alerts import records
from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.db.migrate import upgrade
from tradealerts.server.db.models import AlertRow, Notification, User
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.engine.market import MarketState
from tradealerts.server.feeds import Tick

BARS = 12  # streamed bars: every_bar fires once on each


def test_cooldown_max_fires_and_health_from_a_replay(
    make_server: Callable[..., Running], tmp_path: Path
) -> None:
    alerts: list[dict[str, Any]] = [
        {**every_bar(), "name": "every-bar"},  # 12 fires: chatty
        {**every_bar(), "name": "three-then-done", "max_fires": 3},
        {**every_bar(), "name": "two-hour-cooldown", "cooldown": "2h"},  # bars 0, 2, 4 …
        {**every_bar(0.1), "condition": "less_than", "name": "never"},
    ]
    tokens = prepare(make_server, tmp_path, "limits@example.com", alerts)
    csv = write_replay(tmp_path / "EURUSD_H1.csv", BARS)
    srv = replay_server(make_server, csv)
    wait_replay_done(srv)
    with srv.client(tokens["access_token"]) as c:
        items = {a["name"]: a for a in c.get("/api/alerts").json()["items"]}
        assert {n: a["fire_count"] for n, a in items.items()} == {
            "every-bar": BARS,
            "three-then-done": 3,
            "two-hour-cooldown": BARS // 2,
            "never": 0,
        }
        done = items["three-then-done"]
        assert (done["status"], done["status_reason"], done["max_fires"]) == (
            "triggered",
            "max_fires",
            3,
        )
        assert items["two-hour-cooldown"]["cooldown"] == 7200
        health = {n: a["health"] for n, a in items.items()}
        assert [health["every-bar"][k] for k in ("fires_24h", "fires_7d", "fires_30d")] == [
            BARS,
            BARS,
            BARS,
        ]
        assert health["every-bar"]["chatty"] and not health["two-hour-cooldown"]["chatty"]
        assert health["never"]["last_fired_at"] is None and not health["never"]["dormant"]
        one = c.get(f"/api/alerts/{items['every-bar']['id']}").json()["health"]
        assert one == health["every-bar"]
        # a resume arms it again: three more fires would be allowed (none come: replay ended)
        r = c.post(f"/api/alerts/{done['id']}/resume")
        assert r.status_code == 200 and r.json()["status"] == "active"

    def later(**delta: float) -> dict[str, Any]:
        """Health by name once the server's clock has moved on (tokens expire: log in again)."""
        srv.clock.advance(**delta)
        with srv.client() as anon:
            login = {"email": "limits@example.com", "password": "correct horse battery"}
            token = anon.post("/api/auth/login", json=login).json()["access_token"]
        with srv.client(token) as c:
            return {a["name"]: a["health"] for a in c.get("/api/alerts").json()["items"]}

    h = later(days=2)["every-bar"]
    assert (h["fires_24h"], h["fires_7d"], h["fires_30d"], h["chatty"]) == (0, BARS, BARS, False)
    h = later(days=8)["every-bar"]
    assert (h["fires_7d"], h["fires_30d"], h["dormant"]) == (0, BARS, False)
    by_name = later(days=21)
    assert by_name["every-bar"]["fires_30d"] == 0
    assert by_name["every-bar"]["last_fired_at"] is not None  # older than the month
    assert all(h["dormant"] for h in by_name.values())


NOW = datetime(2026, 1, 1, tzinfo=UTC)
T0 = NOW.timestamp()


def test_a_once_alert_resumed_in_a_loop_is_paused_for_flooding_and_told(tmp_path: Path) -> None:
    db, sessions, runtime, alert_id = runtime_with_one_alert(
        f"sqlite:///{tmp_path / 'server.db'}", tmp_path, "flood@example.com", NOW
    )
    runtime.load()
    listen = runtime.listener(MarketState())
    for i in range(16):  # a script resuming a `once` alert every 10 s of feed time
        listen(Tick("EURUSD", T0 + 10 * i, 1.1, 1.1001), None)
        runtime.sync()
        with sessions() as s:
            row = s.get(AlertRow, alert_id)
            assert row is not None
            if row.status != "triggered":
                break
            owner = s.get(User, row.user_id)
            assert owner is not None
            records.resume_alert(s, owner, row, NOW, WebhookGuard())
            s.commit()
            runtime.changed(records.matcher_alert(row), row.version)
    with sessions() as s:
        row = s.get(AlertRow, alert_id)
        assert row is not None
        assert (row.status, row.status_reason, row.fire_count) == ("paused", "flood", 15)
        kinds = s.scalars(select(Notification.kind).order_by(Notification.id)).all()
        assert kinds.count("alert") == 15 and kinds[-1] == "alert_flood"
    db.dispose()


def test_migration_names_existing_alerts_and_keeps_ids_never_reused(db_url: str) -> None:
    """0009_alert_options on a database with alerts: each gets its default name, the
    arming count starts at 0, names are unique per user, and ids are still never reused."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    db = make_engine(db_url)
    upgrade(db, "0008_usage")
    sessions = make_sessionmaker(db)
    with sessions() as s:
        # the account as 0008 knew it (the ORM's User has the later migrations' columns)
        user_id = s.execute(
            text(
                "INSERT INTO users (email, password_hash, tier, is_admin, email_verified, "
                "display_name, bio, theme, chart_style, language, timezone, analytics_opt_in, "
                "marketing_opt_in, totp_enabled, created_at, updated_at, disabled) VALUES "
                "('old@example.com', 'x', 'FREE', false, true, '', '', 'dark', 'candles', "
                "'en', 'UTC', false, false, false, :now, :now, false) RETURNING id"
            ),
            {"now": NOW},
        ).scalar_one()
        s.commit()
        spec = '{"symbol": "EURUSD", "timeframe": "H1", "condition": "crossing_up", "level": 1.1}'
        for _ in range(2):
            s.execute(
                text(
                    "INSERT INTO alerts (user_id, symbol, timeframe, condition, spec, status, "
                    "fire_count, version, created_at, updated_at) VALUES (:u, 'EURUSD', 'H1', "
                    "'crossing_up', :spec, 'active', 3, 1, :now, :now)"
                ),
                {"u": user_id, "spec": spec, "now": NOW},
            )
        s.commit()
    upgrade(db)
    with sessions() as s:
        rows = s.scalars(select(AlertRow).order_by(AlertRow.id)).all()
        assert [(r.name, r.fires_at_arm, r.fire_count) for r in rows] == [
            (f"eurusd-h1-crossing_up-{r.id}", 0, 3) for r in rows
        ]
        assert records.public(rows[0]).name == rows[0].name
        last = rows[-1].id
        s.delete(rows[-1])
        s.commit()
        owner = s.get(User, user_id)
        assert owner is not None
        again = records.create_alert(
            s, owner, AlertCreate.model_validate(
                {"symbol": "EURUSD", "timeframe": "H1", "condition": "crossing_up", "level": 1.2}
            ), NOW, WebhookGuard(),
        )  # fmt: skip
        s.commit()
        assert again.id > last  # AUTOINCREMENT kept through the rebuild
        rows[0].name = again.name
        try:
            s.commit()
            raise AssertionError("two alerts of one user share a name")
        except IntegrityError:
            s.rollback()
    db.dispose()
