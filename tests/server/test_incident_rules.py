"""The shipped Prometheus rules (deploy/prometheus/tradealerts-rules.yml) name only metrics a
real server's ``/metrics`` exports, and cover every incident kind; the owner's listing of
incidents (``GET /api/admin/incidents``, ``tradealerts-server admin incidents``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.server.incidentkit import checks_pass, mail, rows, serve, the_three
from tests.server.serverkit import Inbox, Running, register_and_login, running_smtp
from tests.server.test_incidents import OWNER_LINES, WEDNESDAY
from typer.testing import CliRunner

from tradealerts.server.cli import app as server_cli

RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "tradealerts-rules.yml"
#: the incident kinds (``Finding.kind``) and the rule that says the same to Prometheus
KINDS = {
    "feed": "TradealertsSymbolStale",
    "bridge": "TradealertsBridgeSilent",
    "alert_log": "TradealertsAlertLogRetrying",
    "quarantine": "TradealertsQuarantine",
    "errors": "TradealertsHigh5xxRate",
    "latency": "TradealertsTickToStreamSlow",
    "queue": "TradealertsMailQueueGrowing",
    "billing": "TradealertsStripeWebhooksFailing",
    "scale": "TradealertsStandbyMissing",
    "disk": "TradealertsDiskLow",
}


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[tuple[Inbox, int]]:
    with running_smtp() as sink:
        yield sink


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, smtp_sink: tuple[Inbox, int]) -> Iterator[Any]:
    """One server for the module: the owner's lines on (the bridge's metrics have a series),
    metrics on, SQLite."""
    inbox, port = smtp_sink
    home = tmp_path_factory.mktemp("rules")
    db = f"sqlite:///{home / 'server.db'}"
    with serve(home / "h", db, port, inbox, WEDNESDAY, metrics_enabled=True, **OWNER_LINES) as s:
        yield s


def _scraped(srv: Running) -> set[str]:
    text = httpx.get(f"{srv.url}/metrics", timeout=30).text
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines()
            if line and not line.startswith("#")}  # fmt: skip


def test_every_rule_names_metrics_the_server_exports(srv: Running) -> None:
    doc = yaml.safe_load(RULES.read_text())
    (group,) = doc["groups"]
    rules = group["rules"]
    assert {r["alert"] for r in rules} >= set(KINDS.values())
    # a stream counts a frame's time: one live frame, so the histogram has samples too
    user = register_and_login(srv, "watcher@example.com")
    with httpx.Client(base_url=srv.url, timeout=30) as c, c.stream(
        "GET", "/api/stream", params={"symbols": "EURUSD:H1"},
        headers={"Authorization": f"Bearer {user['access_token']}"},
    ) as r:  # fmt: skip
        assert r.status_code == 200
    exported = _scraped(srv)
    named: set[str] = set()
    for rule in rules:
        expr = str(rule["expr"])
        assert expr.count("(") == expr.count(")"), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]
        for name in re.findall(r"\btradealerts_[a-z0-9_]+", expr):
            named.add(name)
            assert name in exported, f"{rule['alert']}: {name} is not in /metrics"
    assert len(named) >= 15


def test_the_owner_lists_incidents_over_the_api_and_the_command(
    srv: Running, smtp_sink: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, _port = smtp_sink
    title = "disk space is low"
    srv.settings.incident_disk_free_mb = 10**12  # no disk has that much free: it is low
    try:
        mail(inbox, f"[tradealerts] INCIDENT: {title}")
    finally:
        srv.settings.incident_disk_free_mb = 0
    mail(inbox, f"[tradealerts] RECOVERED: {title}")
    checks_pass(srv)
    assert the_three(inbox, title) == (1, 0, 1)
    user = register_and_login(srv, "plain@example.com")
    refused = httpx.get(f"{srv.url}/api/admin/incidents", timeout=30,
                        headers={"Authorization": f"Bearer {user['access_token']}"})  # fmt: skip
    assert refused.status_code == 403
    admin = register_and_login(srv, "boss@example.com")
    from tradealerts.server.db.models import User

    with srv.app.state.sessions() as s:
        s.query(User).filter_by(email="boss@example.com").one().is_admin = True
        s.commit()
    auth = {"Authorization": f"Bearer {admin['access_token']}"}
    got = httpx.get(f"{srv.url}/api/admin/incidents", timeout=30, headers=auth).json()
    disk = next(i for i in got["incidents"] if i["key"] == "disk:free")
    assert disk["status"] == "closed" and disk["title"] == title
    assert disk["recovery"].startswith("recovered after")
    # the same on the server's host, from its database
    env = {"TRADEALERTS_HOME": str(srv.settings.data_dir),
           "TRADEALERTS_DATABASE_URL": srv.settings.db_url, "COLUMNS": "200"}  # fmt: skip
    out = CliRunner().invoke(server_cli, ["admin", "incidents", "--json"], env=env)
    assert out.exit_code == 0, out.output
    listed = json.loads(out.stdout)
    assert listed["incidents"] == got["incidents"] and listed["recent_days"] == 7
    table = CliRunner().invoke(server_cli, ["admin", "incidents"], env=env)
    assert table.exit_code == 0 and "disk space is low" in table.stdout
    assert "recovered after" in table.stdout


def test_5xx_answers_over_the_threshold(srv: Running, smtp_sink: tuple[Inbox, int]) -> None:
    """No billing here: every upgrade answers 503, a real 5xx the usage aggregate counts."""
    inbox, _port = smtp_sink
    title = "5xx answers over the threshold"
    user = register_and_login(srv, "fivexx@example.com")
    c = srv.client(user["access_token"])
    for _ in range(srv.settings.incident_5xx_min_requests):
        assert c.put("/api/subscription/upgrade").status_code == 503
    mail(inbox, f"[tradealerts] INCIDENT: {title}")
    # the window passes on the server's clock with no more errors: recovered
    srv.clock.advance(seconds=srv.settings.incident_window_seconds + 1)
    checks_pass(srv)
    srv.clock.advance(seconds=1)
    mail(inbox, f"[tradealerts] RECOVERED: {title}")
    assert the_three(inbox, title) == (1, 0, 1)


def test_a_growing_mail_queue(srv: Running, smtp_sink: tuple[Inbox, int]) -> None:
    from datetime import timedelta

    from tradealerts.server.db.models import MailMessage
    from tradealerts.server.mail import queue_mail

    inbox, _port = smtp_sink
    depth = srv.settings.incident_mail_queue_depth
    later = srv.clock.now + timedelta(days=365)  # due next year: they wait in the queue
    with srv.app.state.sessions() as s:
        for i in range(depth + 1):
            queue_mail(s, f"u{i}@example.com", "s", "b", srv.clock.now)
        s.flush()
        for m in s.query(MailMessage).filter(MailMessage.to.like("u%@example.com")):
            m.next_attempt_at = later
        s.commit()
    opened = mail(inbox, "[tradealerts] INCIDENT: the mail queue is growing")
    assert f"{depth + 1} mails wait" in opened.get_payload(decode=True).decode()
    with srv.app.state.sessions() as s:
        for m in s.query(MailMessage).filter(MailMessage.to.like("u%@example.com")):
            m.sent_at = srv.clock.now
        s.commit()
    mail(inbox, "[tradealerts] RECOVERED: the mail queue is growing")
    assert the_three(inbox, "the mail queue is growing") == (1, 0, 1)
    assert [r.kind for r in rows(srv) if r.key == "queue:mail"] == ["queue"]


def test_defaults_are_sane() -> None:
    from tradealerts.server.settings import Settings

    st = Settings()
    assert st.incident_check_seconds == 15 and st.incident_remind_minutes == 60
    assert st.incident_feed_stale_seconds == 300 and st.incident_bridge_silent_bars == 3
    assert st.incident_grace_seconds == 60 and st.incident_5xx_ratio == 0.05
