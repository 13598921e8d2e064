"""A push service's answer is capped like a webhook's (issue #27): Apprise reads a service's
whole answer, so a hostile receiver (a subscriber's own ntfy, Gotify or ``json://`` URL) that
answers a 1 GiB body, endless headers or an endless chunked body, over plain HTTP or TLS, is
cut at 64 KiB: the push failed (retried with back-off) and the server's memory does not grow.
A silent receiver is cut at its read timeout, a dripping one (no read timeout trips) at the
whole call's deadline. Meanwhile another subscriber's push, webhook and mail arrive on
time. ``/metrics`` counts it all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.server.hostilekit import HugeBody, MiB, NeverAnswers, Receiver, SlowDrip, peak_rss
from tests.server.hostilekit import reset_peak_rss as reset_peak
from tests.server.pushkit import PushReceiver, endless_chunks, endless_headers, tls
from tests.server.serverkit import Inbox, Running, WebhookReceiver, wait_until
from tests.server.test_admin_metrics import scrape
from tests.server.test_push_channels import LOOPBACK, add, fire, pro, serve

from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.db.models import Delivery
from tradealerts.server.push.send import Pusher

__all__ = ["serve"]  # the fixture, shared with test_push_channels

CUT = "the answer passed 64 KiB: cut off"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize(
    ("make", "url"),
    [
        pytest.param(lambda: HugeBody(1024 * MiB), "json://127.0.0.1:{port}/s", id="1 GiB body"),
        pytest.param(
            lambda: tls(HugeBody(1024 * MiB)),
            "jsons://127.0.0.1:{port}/s?verify=no",
            id="1 GiB body over TLS",
        ),
        pytest.param(endless_headers, "ntfy://127.0.0.1:{port}/topic", id="endless headers"),
        pytest.param(endless_chunks, "gotify://127.0.0.1:{port}/AppToken1", id="endless chunks"),
        pytest.param(
            lambda: tls(endless_chunks()),
            "gotifys://127.0.0.1:{port}/AppToken1?verify=no",
            id="endless chunks over TLS",
        ),
    ],
)
def test_an_answer_past_the_cap_is_cut_at_once(make: Callable[[], Receiver], url: str) -> None:
    """Cut at 64 KiB, long before the 10 s deadline, the connection closed by us."""
    receiver = make()
    pusher = Pusher(WebhookGuard(LOOPBACK), 2, 10.0)
    try:
        started = time.monotonic()
        result = asyncio.run(pusher.send(url.format(port=receiver.port), "title", "body"))
        assert (result.sent, result.too_large, result.error) == (False, True, CUT), result
        assert result.outcome == "too_large"
        assert time.monotonic() - started < 5
        wait_until(lambda: receiver.open == 0, 5, "the connection cut")
        if isinstance(receiver, HugeBody):  # what the kernel's buffers took, no more
            assert receiver.sent < 32 * MiB, receiver.sent / MiB
    finally:
        pusher.close()
        receiver.close()


@pytest.mark.parametrize(("size", "sent"), [(60 * 1024, True), (65 * 1024, False)])
def test_an_answer_within_the_cap_is_read_whole(size: int, sent: bool) -> None:
    """60 KiB of body and its headers fit in 64 KiB; 65 KiB of body does not."""
    receiver = HugeBody(size)
    pusher = Pusher(WebhookGuard(LOOPBACK), 2, 10.0)
    try:
        result = asyncio.run(pusher.send(f"json://127.0.0.1:{receiver.port}/s", "t", "b"))
        assert (result.sent, result.too_large) == (sent, not sent), result
    finally:
        pusher.close()
        receiver.close()


def pushes(srv: Running) -> dict[str, Delivery]:
    """The push deliveries by channel name (each channel is named by one fire here)."""
    with srv.app.state.sessions() as s:
        rows = s.scalars(select(Delivery).where(Delivery.channel == "push")).all()
    return {d.target.split("/", 1)[1]: d for d in rows}


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_hostile_push_receivers_hold_only_their_own_owners_channels(
    serve: Callable[..., Running], smtp: tuple[Inbox, int]
) -> None:
    """The hostile subscriber's four pushes go first: two 1 GiB answers (plain and TLS) are
    cut at the cap at once, a silent receiver is held until its read timeout (8 s) and a
    dripper, whom no read timeout stops, until the whole call's deadline (12 s); the other
    subscriber's push, webhook and mail arrive while they are held."""
    import apprise  # noqa: F401  (loaded before the memory is measured: it is code, not data)

    inbox, _ = smtp
    huge, huge_tls = HugeBody(1024 * MiB), tls(HugeBody(1024 * MiB))
    drip, never = SlowDrip(interval=0.5), NeverAnswers()
    phone, hook = PushReceiver(), WebhookReceiver()
    srv = serve(webhook_allowlist=LOOPBACK, metrics_enabled=True, push_deadline_seconds=12,
                webhook_per_owner=4)  # fmt: skip
    try:
        h, g = pro(srv, "hostile@example.com"), pro(srv, "good@example.com")
        for name, url in [
            ("huge", f"json://127.0.0.1:{huge.port}/json-secret-path"),
            ("huge-tls", f"jsons://127.0.0.1:{huge_tls.port}/json-secret-path?verify=no"),
            ("drip", f"ntfy://127.0.0.1:{drip.port}/my-secret-topic"),
            ("never", f"gotify://127.0.0.1:{never.port}/GotifyAppToken42?rto=8"),
        ]:
            assert add(h, name, url).status_code == 201
        assert add(g, "phone", f"ntfy://127.0.0.1:{phone.port}/good-topic").status_code == 201
        reset_peak()  # after the sign-ups: argon2 takes 64 MiB a hash
        before = peak_rss()
        fire(h, notify=["huge", "huge-tls", "drip", "never"])
        wait_until(lambda: drip.open == 1 and never.open == 1, what="two calls held")
        started = time.monotonic()
        fire(g, notify=["phone"], webhook_url=hook.url, email=True)
        assert phone.wait(1)[0].body["topic"] == "good-topic"
        hook.wait(1)
        inbox.wait_for("good@example.com", 2)  # the sign-up's code, then the alert
        took = time.monotonic() - started
        assert drip.open == 1 and never.open == 1, "delivered beside them, not after"
        assert took < 8, took

        # the two floods: cut at the cap, retried after the back-off, the memory unmoved
        rows = wait_until(lambda: (p := pushes(srv)) and all(
            p[n].attempts == 1 for n in ("huge", "huge-tls")) and p)  # fmt: skip
        assert peak_rss() - before < 64 * MiB, (peak_rss() - before) / MiB
        assert huge.sent < 64 * MiB and huge_tls.sent < 64 * MiB
        for name in ("huge", "huge-tls"):
            d = rows[name]
            assert (d.status, d.last_error) == ("pending", CUT), name
            assert d.next_attempt_at - d.created_at >= timedelta(seconds=30)
        # the good push's outcome is committed once the service has answered
        wait_until(lambda: pushes(srv)["phone"].status == "sent", what="the push recorded")

        # the silent one at its read timeout, the dripper at the deadline: retried later
        rows = wait_until(lambda: (p := pushes(srv)) and all(
            p[n].attempts == 1 for n in ("drip", "never")) and p, 20)  # fmt: skip
        assert rows["never"].status == rows["drip"].status == "pending"
        assert rows["never"].last_error == (
            "A Connection error occurred sending Gotify notification to 127.0.0.1.")  # fmt: skip
        assert rows["drip"].last_error == "no answer within 12 s (the whole call's deadline)"
        wait_until(lambda: drip.open == 0 and never.open == 0, 5, "their connections shut")

        got = scrape(srv.client())
        attempts = {
            dict(k)["outcome"]: v for k, v in got["tradealerts_push_attempts_total"].items()
        }
        assert attempts == {"sent": 1, "failed": 1, "timed_out": 1, "too_large": 2,
                            "refused": 0, "skipped": 0, "quarantined": 0}  # fmt: skip
        assert got["tradealerts_push_latency_seconds_count"][()] == 5
        assert got["tradealerts_push_latency_seconds_bucket"][(("le", "2.5"),)] == 3
        assert got["tradealerts_push_queue"][()] == 4  # the hostile ones, waiting to retry
        assert got["tradealerts_push_in_flight"][()] == 0
        assert got["tradealerts_push_quarantined"][()] == 0
    finally:
        for r in (huge, huge_tls, drip, never):
            r.close()
        phone.close()
        hook.close()
