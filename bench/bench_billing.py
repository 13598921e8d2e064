"""Billing webhooks on localstripe (loopback), the server in this process on SQLite:

1. latency from a signed ``checkout.session.completed`` delivery to the ``tier`` event on the
   user's open stream (the handler re-reads the subscription, card and customer from Stripe);
   target p99 <= 200 ms;
2. 1,000 deliveries (250 distinct events, each sent 4 times, shuffled, 8 senders at once):
   every event applied exactly once, every user upgraded exactly once; throughput printed.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from tests.server.serverkit import Clock, Inbox, server_settings, start_server
from tests.server.stripekit import event, setup_price, stripe_double, stripe_settings

from benchkit import Targets, smoke
from tradealerts.server import accounts
from tradealerts.server.db.models import AuditLog, StripeEvent
from tradealerts.server.security import issue_access_token

TRIALS = smoke(100, 5)
USERS = smoke(50, 5)
COPIES = 4
TARGET_P99_MS = 200.0


def _user(srv: Any, email: str) -> str:
    now = srv.clock()
    with srv.app.state.sessions() as s:
        user = accounts.create_user(s, email, "correct horse battery", now, verified=True)
        s.commit()
        token, _ = issue_access_token(
            srv.app.state.signing_key, user.id, "FREE", "user", now, 60, f"bench-{user.id}"
        )
    return token


def _paid(srv: Any, double: Any, token: str) -> dict[str, Any]:
    r = httpx.post(f"{srv.url}/api/checkout", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return dict(double.complete_checkout(r.json()["id"]))


def latency(srv: Any, double: Any) -> list[float]:
    out = []
    for i in range(TRIALS):
        token = _user(srv, f"lat{i}@example.com")
        cs = _paid(srv, double, token)
        got = threading.Event()
        seen: list[float] = []
        opened = threading.Event()

        def read(token: str = token, got: threading.Event = got, seen: list[float] = seen,
                 opened: threading.Event = opened) -> None:  # fmt: skip
            with httpx.stream("GET", f"{srv.url}/api/stream", timeout=10,
                              headers={"Authorization": f"Bearer {token}"}) as r:  # fmt: skip
                event_name = ""
                for line in r.iter_lines():
                    opened.set()
                    if line.startswith("event: "):
                        event_name = line[7:]
                    elif line.startswith("data: ") and event_name == "tier":
                        seen.append(time.perf_counter())
                        got.set()
                        return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        opened.wait(5)
        time.sleep(0.02)  # the stream is subscribed once its first frame is out
        t0 = time.perf_counter()
        r = double.deliver(event("checkout.session.completed", cs))
        assert r.status_code == 200, r.text
        assert got.wait(5), "no tier event"
        out.append((seen[0] - t0) * 1000)
        t.join(5)
    return out


def flood(srv: Any, double: Any) -> tuple[float, int, int]:
    # localstripe's own events would upgrade these users before the flood: send them nowhere
    double.mute()
    events: list[dict[str, Any]] = []
    emails = []
    for i in range(USERS):
        email = f"flood{i}@example.com"
        emails.append(email)
        cs = _paid(srv, double, _user(srv, email))
        sub = double.subscription(cs["subscription"])
        inv = double.http.get(f"/v1/invoices/{sub['latest_invoice']}").json()
        events += [
            event("checkout.session.completed", cs),
            event("customer.subscription.created", sub),
            event("customer.subscription.updated", sub),
            event("invoice.paid", inv),
            event("invoice.payment_succeeded", inv),
        ]
    time.sleep(1.5)  # localstripe's own deliveries (sent ~1 s late) are gone
    with srv.app.state.sessions() as s:
        audits_before = s.scalar(select(func.count()).select_from(AuditLog)) or 0
    sends = [e for e in events for _ in range(COPIES)]
    random.Random(7).shuffle(sends)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(double.deliver, sends))
    elapsed = time.perf_counter() - t0
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.is_error][:3]
    applied = sum(not r.json()["duplicate"] for r in answers)
    with srv.app.state.sessions() as s:
        recorded = s.scalar(
            select(func.count())
            .select_from(StripeEvent)
            .where(StripeEvent.id.in_([e["id"] for e in events]))
        )
        changes = (s.scalar(select(func.count()).select_from(AuditLog)) or 0) - audits_before
        tiers = {accounts.find_user(s, e).tier for e in emails}  # type: ignore[union-attr]
    assert applied == len(events) == recorded, (applied, len(events), recorded)
    assert tiers == {"PRO"}, tiers
    assert changes == USERS, changes  # one FREE -> PRO each (its audit row), never two
    return len(sends) / elapsed, applied, changes


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, stripe_double() as double:
        price = setup_price(double)
        settings = server_settings(
            Path(tmp), f"sqlite:///{tmp}/server.db", 0, smtp_url=None,
            rate_limits_enabled=False, **stripe_settings(double, price),
        )  # fmt: skip
        srv = start_server(settings, Clock(), Inbox())
        double.send_webhooks_to(f"{srv.url}/api/webhooks/stripe")
        try:
            lat = sorted(latency(srv, double))
            p50 = statistics.median(lat)
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            targets = Targets()
            print(
                f"webhook -> stream tier event: n={len(lat)} p50={p50:.1f} ms p99={p99:.1f} ms "
                f"max={lat[-1]:.1f} ms {targets.at_most(p99, TARGET_P99_MS, ' ms', 'p99')}; "
                "slowest " + ", ".join(f"{x:.0f}" for x in lat[-5:])
            )
            rate, applied, changes = flood(srv, double)
            print(
                f"{USERS * 5 * COPIES} deliveries ({USERS * 5} distinct x {COPIES}, shuffled, "
                f"8 senders): {rate:.0f} deliveries/s; {applied} applied once each, "
                f"{changes} tier changes for {USERS} users (no lost or double effect)"
            )
            print(json.dumps({"p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
                              "deliveries_per_s": round(rate)}))  # fmt: skip
        finally:
            srv.stop()
    targets.exit()


if __name__ == "__main__":
    main()
