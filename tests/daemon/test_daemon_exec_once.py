"""``--exec`` is at most once per alert event, also when the daemon is killed while the hook
runs: a real daemon process against a real server whose synthetic feed fires the alerts (an
alert created through the API, the matcher, the event log, the stream). The notification keeps
its own exactly-once, and the hook sees ``TRADEALERTS_EVENT_ID``."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
from tests.daemon.daemonkit import DaemonProc, store_login, wait_sentinel
from tests.server.serverkit import Running, register_and_login, wait_until

LOW = 0.5  # below every price the synthetic EURUSD reaches: greater_than fires on the next tick


def _create_alert(srv: Running, token: str, message: str) -> None:
    r = httpx.post(
        f"{srv.url}/api/alerts",
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
        json={
            "symbol": "EURUSD",
            "timeframe": "H1",
            "condition": "greater_than",
            "level": LOW,
            "message": message,
        },
    )
    assert r.status_code == 201, r.text


def _history(srv: Running, token: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{srv.url}/api/alerts/history",
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )
    assert r.status_code == 200, r.text
    return sorted(r.json()["items"], key=lambda item: item["id"])


def test_killed_while_the_hook_runs_never_runs_that_hook_again(
    make_server: Any, tmp_path: Path, email: str, daemons: list[DaemonProc]
) -> None:
    srv: Running = make_server(tick_rate=20, stream_heartbeat_seconds=1.0)
    tokens = register_and_login(srv, email)
    token = tokens["access_token"]
    ids_file = tmp_path / "hook_ids.txt"
    # The hook appends the alert and its event id, then takes its time (a speech command does).
    d = DaemonProc(
        tmp_path, srv.url, hook_tail=f"echo \"$TRADEALERTS_EVENT_ID\" >> '{ids_file}'; sleep 2"
    )
    store_login(d.home, srv.url, tokens, email)
    daemons.append(d)

    def hook_ids() -> list[str]:
        return ids_file.read_text().split() if ids_file.exists() else []

    proc = d.start()
    d.wait_connected()
    _create_alert(srv, token, "exec-once first")
    wait_until(lambda: len(hook_ids()) == 1, 30, f"the first hook: {d.log_text()[-2000:]}")
    proc.send_signal(signal.SIGKILL)  # the hook is in its sleep: the daemon dies mid-hook
    assert proc.wait(10) == -signal.SIGKILL
    [first] = _history(srv, token)

    d.start()
    d.wait_connected(2)
    wait_until(  # the stored event is delivered again at start: its notification, not its hook
        lambda: "exec-once first" in d.log_text().split("delivering 1 event(s)")[-1],
        30,
        f"the re-delivery: {d.log_text()[-2000:]}",
    )
    _create_alert(srv, token, "exec-once second")
    wait_until(lambda: len(hook_ids()) == 2, 30, f"the second hook: {d.log_text()[-2000:]}")
    # a third alert: the daemon delivers in order, one hook after the other, so a repeated
    # hook of the first two would have written before the third's
    _create_alert(srv, token, "exec-once sentinel")
    first_, second, sentinel = wait_until(
        lambda: h if len(h := _history(srv, token)) == 3 else None, 30, "the sentinel's fire"
    )
    assert first_ == first and first["id"] < second["id"] < sentinel["id"]
    delivered = wait_sentinel(d, sentinel["id"])
    wait_until(lambda: str(sentinel["id"]) in hook_ids(), 30, "the sentinel's hook")

    # The hook ran exactly once per event, in order, and saw the stream's event id.
    assert hook_ids() == [str(first["id"]), str(second["id"]), str(sentinel["id"])]
    assert [x["id"] for x in delivered] == [first["id"], second["id"]]
    log = d.log_text()
    assert f"event {first['id']}: --exec was already started" in log
    # The notification (the bell's log line) of each event exactly once: the first was never
    # shown before the kill, so the restart shows it.
    assert log.count("ALERT EURUSD H1: exec-once first") == 1
    assert log.count("ALERT EURUSD H1: exec-once second") == 1
