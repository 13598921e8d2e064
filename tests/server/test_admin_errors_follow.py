"""``admin errors --follow`` prints a server error recorded after it started."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from tests.server.serverkit import Running, register_and_login
from tests.server.test_admin_dashboard import login

EXE = Path(sys.executable).parent / "tradealerts-server"


def test_errors_follow_prints_a_new_error(
    make_server: Callable[..., Running], db_url: str, tmp_path: Path
) -> None:
    srv = make_server(usage_flush_seconds=0.2)  # the periodic flush writes the record
    register_and_login(srv, "u@example.com")
    u = login(srv, "u@example.com")
    env = {**os.environ, "TRADEALERTS_HOME": str(tmp_path), "TRADEALERTS_DATABASE_URL": db_url}
    proc = subprocess.Popen(
        [str(EXE), "admin", "errors", "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        time.sleep(3)  # it has printed the (empty) past and is polling
        engine = create_engine(db_url)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE watchlist_items"))
        engine.dispose()
        r = u.get("/api/watchlist")
        assert r.status_code == 500
        rid = r.headers["x-request-id"]
        sel = selectors.DefaultSelector()
        assert proc.stdout is not None
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline and not line:
            if sel.select(timeout=1):
                line = proc.stdout.readline()
        assert line, "nothing printed within 20 s"
        record = json.loads(line)
        assert record["request_id"] == rid and record["route"] == "/api/watchlist"
    finally:
        proc.terminate()
        proc.wait(10)
