"""The ``tradealerts`` command over a connection that breaks (a fault proxy between it and
the real server): a clear one-line error and exit 1, never a traceback, and nothing half done:
the next run, on a good connection, sees exactly what the server holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.conftest import Cli, make_home
from tests.faultproxy import Fault, FaultProxy
from tests.server.serverkit import Running, register_and_login


@pytest.mark.parametrize(
    "fault",
    [Fault(reset_at=1), Fault(cut_at=40), Fault(reset_at=200), Fault(cut_at=300)],
    ids=["reset-before-answer", "cut-in-headers", "reset-mid-answer", "cut-mid-body"],
)
def test_a_broken_connection_is_a_clear_error(
    server: Running, tmp_path: Path, fault: Fault
) -> None:
    make_home(tmp_path)
    with FaultProxy(server.settings.port) as proxy:
        me = Cli(server, tmp_path, f"faults-{abs(hash(str(fault)))}@example.com")
        register_and_login(server, me.email, me.password)
        env = {"TRADEALERTS_SERVER": proxy.url}
        me.ok("login", "--email", me.email, "--password-stdin", input=me.password + "\n", **env)
        proxy.set_plan([fault])  # the next connection breaks
        body = ["EURUSD", "H1", "crossing_up", "1.2345"]
        r = me.run("alerts", "create", *body, **env)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "Traceback" not in r.stderr + r.stdout
        assert len(r.stderr.strip().splitlines()) <= 2, r.stderr
        assert proxy.faults_applied[_kind(fault)] == 1
        # the good connection shows what the server holds: the alert whole, or not at all
        listed = me.json("alerts", "list", **env)
        items = listed["items"] if isinstance(listed, dict) else listed
        assert all(a["level"] == 1.2345 and a["symbol"] == "EURUSD" for a in items)
        assert len(items) <= 1


def _kind(f: Fault) -> str:
    return "cut" if f.cut_at is not None else "reset"
