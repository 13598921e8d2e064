"""The real daemon through a fault proxy while a replay fires alerts through the real path
(replay → matcher → event log → stream): every alert is delivered exactly once, in order,
across random cuts, resets, a black hole and a server restart."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from tests.daemon.daemonkit import DaemonProc, store_login, through_sentinel
from tests.faultproxy import Fault, FaultProxy, check_history
from tests.server.replaykit import (
    HISTORY,
    every_bar,
    logged_ids,
    wait_replay_done,
    write_replay,
)
from tests.server.serverkit import Running, free_port, register_and_login, set_tier

CUTS = 40


def test_daemon_gets_every_replayed_alert_once_through_cuts(
    make_server: Callable[..., Running], tmp_path: Path, daemons: list[DaemonProc], email: str
) -> None:
    port = free_port()
    with FaultProxy(port) as proxy:
        # the daemon's first start is on a quiet server: it starts after event 0
        quiet = make_server(
            port=port,
            feed=f"replay:{write_replay(tmp_path / 'USDJPY_H1.csv', 2)}",
            replay_speed=0,
            history_bars=HISTORY,
            stream_heartbeat_seconds=0.5,
        )
        tokens = register_and_login(quiet, email)
        set_tier(quiet, email, "PRO")
        with quiet.client(tokens["access_token"]) as c:
            for _ in range(5):
                assert c.post("/api/alerts", json=every_bar()).status_code == 201
        d = DaemonProc(tmp_path / "user", proxy.url)
        store_login(d.home, proxy.url, tokens, email)
        daemons.append(d)
        d.start(TRADEALERTS_DAEMON_BACKOFF_CAP="0.3", TRADEALERTS_DAEMON_DEAD_AFTER="1.5")
        d.wait_connected()
        quiet.stop()  # a server restart: the replay server takes its place on the same port
        rng = random.Random(7)
        plan = [
            Fault(cut_at=rng.randint(1, 2000)) if i % 3 else Fault(reset_at=rng.randint(1, 2000))
            for i in range(CUTS)
        ]
        plan[CUTS // 2] = Fault(blackhole_at=rng.randint(300, 3000))
        proxy.set_plan(plan)
        srv = make_server(
            port=port,
            feed=f"replay:{write_replay(tmp_path / 'EURUSD_H1.csv', 200)}",
            replay_speed=40,
            history_bars=HISTORY,
            stream_heartbeat_seconds=0.5,
        )
        wait_replay_done(srv, timeout=90)
        logged = logged_ids(srv, email)
        assert len(logged) == 5 * 200
        d.wait_deliveries(len(logged), timeout=90)
        delivered = [int(x["id"]) for x in through_sentinel(d, srv, email, "USDJPY")]
        applied = sum(proxy.faults_applied.values())
    verdict = check_history(logged, delivered)
    assert verdict.ok, str(verdict)
    assert applied >= CUTS - 5  # nearly all planned faults hit a connection mid-way
