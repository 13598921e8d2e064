"""One hostile subscriber, everyone else's deliveries on time (issue #22).

1,000 alerts of 100 PRO users fire (10 each, created straight in the database at BENCH_RATE
a second, 20 by default, every one with email and a webhook); one of the users points its
webhooks at the four receivers of ``tests/server/hostilekit.py``: a bad ``Retry-After``
(``\\xb2``), a slow drip (a byte every 3 s), a 200 MiB answer and one that never answers.
The same user's alerts also push (``json://``, issue #27) to four more such receivers, whose
answers are capped and cut like the webhooks'. The others' webhooks go to a loopback
receiver that verifies each with the
``standardwebhooks`` library, their mails to aiosmtpd, both in a process of their own
(``isolation_sinks.py``). Latency is the receive time minus the fire's tick time (the live
synthetic feed stamps ticks with the wall clock).

Targets: the others' webhook p99 <= 2 s, mail p99 <= 5 s, none lost (each of their events
delivered by webhook exactly once, and mailed), the server's RSS growth <= 50 MB (its peak
during the run over its resident size before the first fire).

``--smoke`` (or BENCH_SMOKE=1): 10 users x 3 alerts and a 20 MiB answer, for a quick check.
BENCH_HOSTILE=0 is the control: the same run with the first user's webhooks well received.
Exits 1 when a target is missed."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from benchkit import BIN, HERE, Targets, free_port, wait_up
from benchkit import SMOKE as SMOKE_ENV
from tradealerts.core.alerts import AlertCreate
from tradealerts.server.db.models import AlertChange, AlertRow, Delivery, Event, PushChannel, User
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.push.vault import Vault

sys.path.insert(0, str(HERE.parent))  # the test kit's hostile receivers
from tests.server.hostilekit import Hostile, MiB, peak_rss, reset_peak_rss, rss

SMOKE = "--smoke" in sys.argv or SMOKE_ENV
USERS = 10 if SMOKE else int(os.environ.get("BENCH_USERS", "100"))
ALERTS_PER_USER = 3 if SMOKE else 10
RATE = int(os.environ.get("BENCH_RATE", "20"))  # alerts created (and fired) per second
#: BENCH_HOSTILE=0: the control run, the first user's webhooks going to the good receiver too
HOSTILE = os.environ.get("BENCH_HOSTILE", "1") != "0"
HUGE = (20 if SMOKE else 200) * MiB
# seconds to wait for the stragglers
SETTLE = float(os.environ.get("BENCH_SETTLE", "20" if SMOKE else "60"))
SECRET = "bench-secret-key-0123456789abcdef-0123"  # noqa: S105 - a throwaway server


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    targets = Targets()
    home = Path(tempfile.mkdtemp(prefix="tradealerts-bench-isolation-"))
    keys = {i: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode() for i in
            range(USERS)}  # fmt: skip
    (home / "keys.json").write_text(json.dumps(keys))
    sinks = subprocess.Popen(
        [sys.executable, str(HERE / "isolation_sinks.py"), str(home / "keys.json"), str(home)],
        stdout=subprocess.PIPE,
    )
    ready = home / "sinks.json"
    while not ready.exists():
        if sinks.poll() is not None:
            raise RuntimeError("the receivers did not start")
        time.sleep(0.1)
    where = json.loads(ready.read_text())
    hostile = Hostile(drip_interval=3.0, huge=HUGE)
    pushed = Hostile(drip_interval=3.0, huge=HUGE)  # the hostile user's push channels
    env = {
        **os.environ,
        "TRADEALERTS_HOME": str(home),
        "TRADEALERTS_SECRET_KEY": SECRET,
        "TRADEALERTS_HISTORY_BARS": "300",
        "TRADEALERTS_TICK_RATE": "10",
        "TRADEALERTS_LOG_LEVEL": "WARNING",
        "TRADEALERTS_ALERT_SYNC_SECONDS": "0.2",
        "TRADEALERTS_SMTP_URL": f"smtp://127.0.0.1:{where['smtp']}",
        # the owner's approval of loopback receivers (the SSRF guard refuses them otherwise)
        "TRADEALERTS_WEBHOOK_ALLOWLIST": '["127.0.0.1/32"]',
    }
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "tradealerts-server"), "serve", "--port", str(port)], env=env
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/api/system/health", server)
        db = make_engine(f"sqlite:///{home / 'server.db'}")
        sessions = make_sessionmaker(db)
        now = datetime.now(UTC)
        with sessions() as s:
            users = [
                User(
                    email=f"u{i}@example.com",
                    password_hash="-",  # noqa: S106 - never logs in
                    tier="PRO",
                    email_verified=True,
                    webhook_secret=keys[i],
                    created_at=now,
                    updated_at=now,
                )
                for i in range(USERS)
            ]
            s.add_all(users)
            s.commit()
        ids = [u.id for u in users]
        hostile_id = ids[0]
        with sessions() as s:  # as ``channels add`` stores them: sealed with the server's key
            vault = Vault(SECRET)
            s.add_all(
                PushChannel(
                    user_id=hostile_id,
                    name=f"hostile-{k}",
                    service="JSON",
                    masked="-",
                    url_secret=vault.seal(f"json://127.0.0.1:{r.port}/s"),
                    created_at=now,
                )
                for k, r in enumerate(pushed.all)
            )
            s.commit()

        def spec(i: int, k: int) -> dict[str, Any]:
            url = hostile.all[k % 4].url if i == 0 and HOSTILE else f"{where['http']}/{i}"
            notify = [f"hostile-{k % 4}"] if i == 0 and HOSTILE else []
            return AlertCreate.model_validate(
                {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than",
                 "level": 0.5, "channels": {"email": True, "webhook_url": url, "notify": notify}}
            ).model_dump(mode="json", exclude={"name"})  # fmt: skip

        # the hostile user's alerts first: its receivers are misbehaving when the rest fire
        order = [(0, k) for k in range(ALERTS_PER_USER)] + [
            (u, k) for k in range(ALERTS_PER_USER) for u in range(1, USERS)
        ]
        time.sleep(1.0)  # the server settles (first bars, first ticks) before the baseline
        base_rss = rss(server.pid)
        reset_peak_rss(server.pid)
        started = time.monotonic()
        step = max(RATE // 5, 1)
        for at in range(0, len(order), step):
            with sessions() as s:
                stamp = datetime.now(UTC)
                rows = [
                    AlertRow(
                        user_id=ids[u],
                        name=f"bench-{u}-{k}",
                        symbol="EURUSD",
                        timeframe="H1",
                        condition="greater_than",
                        spec=spec(u, k),
                        status="active",
                        fire_count=0,
                        version=1,
                        created_at=stamp,
                        updated_at=stamp,
                    )
                    for u, k in order[at : at + step]
                ]
                s.add_all(rows)
                s.flush()
                s.add_all(AlertChange(alert_id=r.id, created_at=stamp) for r in rows)
                s.commit()
            time.sleep(0.2)
        created = time.monotonic() - started
        expected_alerts = (USERS - 1) * ALERTS_PER_USER
        deadline = time.monotonic() + SETTLE
        while time.monotonic() < deadline:  # until the others' deliveries are all done
            with sessions() as s:
                fired = s.scalar(
                    select(func.count())
                    .select_from(Event)
                    .where(Event.kind == "alert", Event.user_id != hostile_id)
                )
                waiting = s.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(
                        Delivery.user_id != hostile_id,
                        Delivery.status.in_(("pending", "queued")),
                    )
                )
            if fired >= expected_alerts and not waiting:
                break
            time.sleep(0.5)
        time.sleep(2.0)  # a late double would show now
        peak = peak_rss(server.pid)
        (home / "sinks.stop").write_text("")
        out, _ = sinks.communicate(timeout=60)
        received = json.loads(out)
        with sessions() as s:
            events = s.execute(select(Event.id, Event.user_id).where(Event.kind == "alert")).all()
            hostile_states, push_states = (
                Counter(
                    (d.status, d.response_status, (d.last_error or "")[:60])
                    for d in s.scalars(
                        select(Delivery).where(
                            Delivery.user_id == hostile_id, Delivery.channel == channel
                        )
                    )
                )
                for channel in ("webhook", "push")
            )
        db.dispose()
        others = {e for e, u in events if u != hostile_id}
        got = [tuple(g) for g in received["hooks"]]
        hook_ms = [(now_ - fired) * 1000 for now_, fired, _, _ in got]
        other_mails = [m for m in received["mails"] if m[2] != "u0@example.com"]
        mail_ms = [(now_ - fired) * 1000 for now_, fired, _ in other_mails]
        doubled = sum(n - 1 for n in Counter(g[3] for g in got).values() if n > 1)
        lost_hooks = len(others - {g[2] for g in got})
        lost_mails = max(len(others) - len(other_mails), 0)
        unfired = expected_alerts - len(others)
        print(
            f"{USERS} users x {ALERTS_PER_USER} alerts created in {created:.1f} s; "
            f"{len(events)} fired ({len(others)} of the {USERS - 1} well-behaved users'); "
            f"hostile receivers: drip every 3 s, {HUGE // MiB} MiB body, never answering, "
            f"Retry-After \\xb2"
        )
        print(f"hostile user's deliveries: {dict(hostile_states)}")
        print(
            f"hostile user's pushes: {dict(push_states)}; its {HUGE // MiB} MiB push answer: "
            f"{pushed.huge.sent / MiB:.1f} MiB let through of {pushed.huge.requests} request(s)"
        )
        print(
            f"hostile receivers: never-answering peak {hostile.never.peak} open, drip peak "
            f"{hostile.drip.peak}, huge body {hostile.huge.sent / MiB:.1f} MiB let through of "
            f"{hostile.huge.requests} request(s)"
        )
        print(
            f"others' webhooks: {len(got)} received, signature failures {len(received['bad'])}; "
            f"p50 {p(hook_ms, 50):.0f} ms, p99 {p(hook_ms, 99):.0f} ms, max "
            f"{max(hook_ms, default=float('nan')):.0f} ms  "
            + targets.at_most(p(hook_ms, 99) / 1000 if hook_ms else 1e9, 2, " s", "webhook p99")
        )
        print(
            f"others' mails: {len(other_mails)} received; p50 {p(mail_ms, 50):.0f} ms, p99 "
            f"{p(mail_ms, 99):.0f} ms, max {max(mail_ms, default=float('nan')):.0f} ms  "
            + targets.at_most(p(mail_ms, 99) / 1000 if mail_ms else 1e9, 5, " s", "mail p99")
        )
        print(
            f"accounting: alerts never fired {unfired}, webhooks lost {lost_hooks}, doubled "
            f"{doubled}, mails lost {lost_mails}, bad signatures {len(received['bad'])}  "
            + targets.exactly(
                unfired + lost_hooks + doubled + lost_mails + len(received["bad"]), 0, "0 lost"
            )
        )
        growth = (peak - base_rss) / 1e6
        print(
            f"server RSS: {base_rss / 1e6:.0f} MB before, peak {peak / 1e6:.0f} MB during the run "
            f"(+{growth:.1f} MB)  " + targets.at_most(growth, 50, " MB", "RSS growth")
        )
    finally:
        for proc in (server, sinks):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        hostile.close()
        pushed.close()
    targets.exit()


if __name__ == "__main__":
    main()
