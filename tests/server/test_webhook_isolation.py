"""One subscriber's hostile receivers hold only their own deliveries (issue #22): a PRO user
points webhooks at the four receivers of ``hostilekit`` (bad ``Retry-After``, slow drip,
200 MiB body, never answering) while another user's webhooks are delivered, verified with
the ``standardwebhooks`` library, each once; the whole call has a deadline, the answer's body
a cap, and a delivery that raises is quarantined with its reason while the rest go on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook
from tests.server.hostilekit import Hostile, MiB, peak_rss, reset_peak_rss
from tests.server.serverkit import (
    Clock,
    Inbox,
    Running,
    WebhookReceiver,
    fire_event,
    register_and_login,
    server_settings,
    set_tier,
    start_server,
    wait_until,
)

from tradealerts.server.alerts.channels import retry_after
from tradealerts.server.db.models import Delivery, ErrorRecord, Event

EXE = Path(sys.executable).parent / "tradealerts-server"

LOW = 0.5  # below every synthetic EURUSD price: a greater_than alert fires at once
LOOPBACK = ["127.0.0.1/32"]  # the owner's approval of loopback receivers (the SSRF guard)


@pytest.fixture
def serve(tmp_path: Path, db_url: str, smtp: tuple[Inbox, int]) -> Iterator[Any]:
    inbox, smtp_port = smtp
    running: list[Running] = []

    def start(**overrides: Any) -> Running:
        values = {"tick_rate": 20, "rate_limits_enabled": False, "webhook_allowlist": LOOPBACK,
                  "access_token_minutes": 600, **overrides}  # fmt: skip
        settings = server_settings(tmp_path / f"h{len(running)}", db_url, smtp_port, **values)
        srv = start_server(settings, Clock(), inbox)
        running.append(srv)
        return srv

    yield start
    for srv in running:
        srv.stop()


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    kit = Hostile(drip_interval=0.5)  # well under the 5 s per-read timeout: it never trips
    yield kit
    kit.close()


def pro(srv: Running, email: str) -> Any:
    c = srv.client(register_and_login(srv, email)["access_token"])
    set_tier(srv, email, "PRO")
    return c


def fire_to(c: Any, url: str) -> int:
    r = c.post(
        "/api/alerts",
        json={"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": LOW,
              "channels": {"webhook_url": url}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def deliveries(srv: Running, alert_id: int) -> list[Delivery]:
    with srv.app.state.sessions() as s:
        return list(
            s.scalars(
                select(Delivery)
                .join(Event, Event.id == Delivery.event_id)
                .where(Delivery.channel == "webhook", Event.alert_id == alert_id)
            )
        )


def one(srv: Running, alert_id: int) -> Delivery | None:
    got = deliveries(srv, alert_id)
    return got[0] if got else None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120),
        (" 7 ", 7),
        ("0", 0),
        ("99999999", 3600),  # capped
        pytest.param("9" * 5000, 3600, id="5000 digits"),  # past int()'s 4,300: capped
        ("\xb2", None),  # "²": isdigit() says yes, int() says no
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0),  # past: at once
        ("Fri, 31 Dec 9999 23:59:59 GMT", 3600),
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: no telling when
        ("Wed, 99 Oct 2015 07:28:00 GMT", None),
        ("Mon, 01 Jan 99999 00:00:00 GMT", None),
        ("Mon, 01 Jan 2026 25:00:00 GMT", None),
    ],
)
def test_retry_after_is_parsed_defensively(value: str | None, seconds: int | None) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after(value, now) == seconds


def test_hostile_receivers_hold_only_their_own_owners_deliveries(
    serve: Any, hostile: Hostile
) -> None:
    """The hostile user's deliveries go first (lower ids) and stay stuck on their receivers
    (the deadline is long here: they are still held when the other user's arrive)."""
    good = WebhookReceiver()
    srv = serve(webhook_deadline_seconds=120, webhook_per_owner=4, webhook_per_destination=2)
    try:
        h = pro(srv, "hostile@example.com")
        c = pro(srv, "good@example.com")
        secret = c.get("/api/user/webhook-secret").json()["secret"]
        reset_peak_rss()  # after the sign-ups: argon2 takes 64 MiB a hash
        before = peak_rss()
        ids = {
            "huge": fire_to(h, hostile.huge.url),
            "bad": fire_to(h, hostile.bad_retry_after.url),
            "drip": fire_to(h, hostile.drip.url),
        }
        # three alerts at the silent receiver: two calls at once at most (per destination)
        never = [fire_to(h, hostile.never.url) for _ in range(3)]
        wait_until(lambda: hostile.never.open == 2 and hostile.drip.open == 1, what="stuck")
        mine = {fire_to(c, good.url) for _ in range(3)}
        got = good.wait(3, timeout=60)
        # delivered while the hostile calls are still held: not after them
        assert hostile.drip.open == 1 and hostile.never.open == 2
        bodies = [Webhook(secret).verify(body, headers) for headers, body in got]
        assert {b["alert_id"] for b in bodies} == mine
        assert Counter(headers["webhook-id"] for headers, _ in got).most_common(1)[0][1] == 1
        assert hostile.never.peak == 2 and hostile.never.requests == 2
        # the 200 MiB answer: counted from its status, its body read up to the cap only
        huge = wait_until(lambda: (d := one(srv, ids["huge"])) and d.status == "sent" and d)
        assert huge.response_status == 200
        assert peak_rss() - before < 64 * MiB, (peak_rss() - before) / MiB
        # \xb2 is no number: the 503 is recorded, and the default back-off (30 s) applies
        bad = wait_until(lambda: (d := one(srv, ids["bad"])) and d.attempts == 1 and d)
        assert (bad.status, bad.response_status, bad.last_error) == ("pending", 503, "HTTP 503")
        assert bad.next_attempt_at - bad.created_at >= timedelta(seconds=30)
        for alert_id in [ids["drip"], *never]:
            d = one(srv, alert_id)
            assert d is not None and d.status == "pending"
        assert good.received and len(good.received) == 3
    finally:
        good.close()


def test_the_deadline_covers_the_whole_call(serve: Any, hostile: Hostile) -> None:
    """A drip that never trips the per-read timeout is cut at the whole call's deadline, and
    so is a receiver that never answers; both are retried later, and the destination waits."""
    srv = serve(webhook_deadline_seconds=2)
    h = pro(srv, "dripper@example.com")
    drip, never = fire_to(h, hostile.drip.url), fire_to(h, hostile.never.url)
    for alert_id in (drip, never):
        d = wait_until(lambda a=alert_id: (x := one(srv, a)) and x.attempts == 1 and x)
        assert d.status == "pending" and d.response_status is None
        assert d.last_error == "no answer within 2 s (the whole call's deadline)"
    wait_until(lambda: hostile.drip.open == 0 and hostile.never.open == 0, what="cut off")


def test_a_delivery_that_raises_is_quarantined_and_the_rest_go_on(serve: Any) -> None:
    """A stored URL the guard cannot even parse (``http://[::1``: urlsplit raises) was a
    poison item: the pass died on it, every 5 s, and nobody's webhook went out. Now it is
    quarantined with its reason, in ``admin errors`` too, and the other user's webhook goes."""
    from tradealerts.server.accounts import find_user

    good = WebhookReceiver()
    srv = serve()
    try:
        pro(srv, "poison@example.com")
        event_id = fire_event(srv, "poison@example.com")
        now = srv.clock()
        with srv.app.state.sessions() as s:
            user = find_user(s, "poison@example.com")
            assert user is not None
            bad = Delivery(event_id=event_id, user_id=user.id, channel="webhook",
                           target="http://[::1/hook", status="pending", attempts=0,
                           next_attempt_at=now, created_at=now)  # fmt: skip
            s.add(bad)
            s.commit()
            bad_id = bad.id
        c = pro(srv, "fine@example.com")
        alert_id = fire_to(c, good.url)
        headers, body = good.wait(1)[0]
        secret = c.get("/api/user/webhook-secret").json()["secret"]
        assert Webhook(secret).verify(body, headers)["alert_id"] == alert_id

        def parked() -> Delivery | None:
            with srv.app.state.sessions() as s:
                d = s.get(Delivery, bad_id)
                return d if d is not None and d.status != "pending" else None

        d = wait_until(parked, what="the poison item parked")
        assert d.status == "quarantined" and d.done_at is not None
        assert d.last_error is not None and d.last_error.startswith("quarantined: ValueError: ")
        with srv.app.state.sessions() as s:
            errors = s.scalars(
                select(ErrorRecord).where(ErrorRecord.route == f"webhook delivery {bad_id}")
            ).all()
        assert len(errors) == 1 and errors[0].user_id == user.id
        assert errors[0].exc_type == "ValueError"
        assert srv.client().get("/api/system/health").json()["deliveries"] == {
            "status": "ok", "quarantined": 1}  # fmt: skip

        # the owner sees it, mends the cause and releases it: it is tried again and goes
        env = {**os.environ, "TRADEALERTS_HOME": str(srv.settings.home),
               "TRADEALERTS_DATABASE_URL": srv.settings.database_url}  # fmt: skip

        def owner(*args: str) -> str:
            out = subprocess.run([str(EXE), "admin", "quarantine", *args], capture_output=True,
                                 text=True, env=env, timeout=120)  # fmt: skip
            assert out.returncode == 0, out.stderr
            return out.stdout

        listed = json.loads(owner("--json"))["quarantined"]
        assert [i["id"] for i in listed] == [f"delivery-{bad_id}"], listed
        assert listed[0]["reason"].startswith("quarantined: ValueError")
        with srv.app.state.sessions() as s:
            row = s.get(Delivery, bad_id)
            assert row is not None
            row.target = good.url
            s.commit()
        assert f"released 1 item(s): delivery-{bad_id}" in owner("--release", f"delivery-{bad_id}")
        good.wait(2)
        assert wait_until(lambda: (d := parked()) is not None and d.status == "sent" and d,
                          what="the released delivery sent").attempts == 1  # fmt: skip
        assert json.loads(owner("--json"))["quarantined"] == []
    finally:
        good.close()
