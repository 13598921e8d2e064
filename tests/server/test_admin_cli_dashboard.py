"""The dashboard commands as subprocesses: on the database directly, and against a running
server with an admin login (password on stdin, or TRADEALERTS_ADMIN_TOKEN)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from tests.server.serverkit import PW, Running, register_and_login
from tests.server.test_admin_dashboard import login, make_admin, user_id

EXE = Path(sys.executable).parent / "tradealerts-server"


def cli(
    home: Path, db_url: str, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "TRADEALERTS_HOME": str(home), "TRADEALERTS_DATABASE_URL": db_url}
    full.pop("TRADEALERTS_ADMIN_TOKEN", None)
    full.update(env)
    return subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, env=full, input=stdin, timeout=60
    )


def test_dashboard_commands_locally_and_against_the_server(
    server: Running, db_url: str, tmp_path: Path
) -> None:
    for email in ("a@gmail.com", "b@example.com", "c@example.com"):
        register_and_login(server, email)
    boss = make_admin(server, "boss@example.com")
    a = login(server, "a@gmail.com")
    for _ in range(3):
        assert a.get("/api/symbols").status_code == 200
    remote = ("--server", server.url, "--email", "boss@example.com", "--password-stdin")

    def over(*args: str) -> subprocess.CompletedProcess[str]:
        r = cli(tmp_path, db_url, "admin", *args, *remote, stdin=PW + "\n")
        assert r.returncode == 0, r.stderr
        return r

    stats = json.loads(over("stats", "--json").stdout)
    assert stats["users_by_tier"] == {"FREE": 4, "PRO": 0}
    assert stats["signups_per_day"][-1]["count"] == 4 and stats["active_users"]["day"] == 1
    usage = json.loads(over("usage", "--json", "--hours", "1").stdout)
    assert {f["family"]: f["requests"] for f in usage["families"]}["symbols"] == 3
    assert usage["top_users"][0] == {
        "user_id": user_id(server, "a@gmail.com"),
        "email": "a@gmail.com",
        "tier": "FREE",
        "requests": 3,
    }
    users = json.loads(over("users", "--search", "gmail", "--json").stdout)
    assert [u["email"] for u in users["users"]] == ["a@gmail.com"] and users["page"] == 1
    assert over("set-tier", "a@gmail.com", "PRO").stdout.strip() == "a@gmail.com: FREE -> PRO"
    b_id = user_id(server, "b@example.com")
    r = json.loads(over("set-role", str(b_id), "admin", "--json").stdout)
    assert r["user"]["role"] == "admin" and r["changed"] == ["role -> admin"]
    assert over("disable", "c@example.com").stdout.strip() == "c@example.com: disabled"
    assert over("delete-user", str(b_id), "--yes").stdout.strip() == f"deleted {b_id}"

    # locally, on the database the server uses
    local = cli(tmp_path, db_url, "admin", "users", "--tier", "PRO", "--json")
    assert local.returncode == 0, local.stderr
    page = json.loads(local.stdout)  # the shape GET /api/admin/users answers
    assert [u["email"] for u in page["users"]] == ["a@gmail.com"] and page["total"] == 1
    local = cli(tmp_path, db_url, "admin", "users", "--status", "disabled")
    assert "c@example.com" in local.stdout and "a@gmail.com" not in local.stdout
    local = cli(tmp_path, db_url, "admin", "stats")
    assert local.returncode == 0, local.stderr
    assert "sign-ups per day (30 days)" in local.stdout and "FREE" in local.stdout
    assert "█" in local.stdout or "▇" in local.stdout  # plotext's bars
    ticks = re.findall(r"^\s*([\d.]+)┤", local.stdout, re.M)
    assert ticks and all(t.isdigit() for t in ticks), ticks  # whole counts, not 0.33
    audit = json.loads(cli(tmp_path, db_url, "admin", "audit", "--json").stdout)
    # (looking a user up by email over the API lists users: audited too)
    assert {"entries", "total", "page", "per_page"} <= set(audit)
    changes = [(e["actor"], e["action"]) for e in audit["entries"] if e["action"] != "list_users"]
    assert changes[:4] == [
        ("boss@example.com", "delete_user"),
        ("boss@example.com", "disable"),
        ("boss@example.com", "set_role"),
        ("boss@example.com", "set_tier"),
    ]
    r = cli(tmp_path, db_url, "admin", "set-role", "a@gmail.com", "owner")
    assert r.returncode == 2 and "use user or admin" in r.stderr

    # a server error, seen by both kinds of command
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE support_tickets"))
    engine.dispose()
    r500 = a.post("/api/support", json={"subject": "help", "body": "it broke"})
    assert r500.status_code == 500
    rid = r500.headers["x-request-id"]
    errors = json.loads(over("errors", "--json").stdout)["errors"]
    assert errors[0]["request_id"] == rid and errors[0]["route"] == "/api/support"
    local = cli(tmp_path, db_url, "admin", "errors")
    assert rid in local.stdout

    # the token route, and a non-admin refused
    token = boss.headers["Authorization"].removeprefix("Bearer ")
    r = cli(tmp_path, db_url, "admin", "audit", "--json", "--server", server.url,
            TRADEALERTS_ADMIN_TOKEN=token)  # fmt: skip
    assert r.returncode == 0 and json.loads(r.stdout)["entries"][0]["action"] == "delete_user"
    r = cli(tmp_path, db_url, "admin", "stats", "--server", server.url, "--email",
            "a@gmail.com", "--password-stdin", stdin=PW + "\n")  # fmt: skip
    assert r.returncode == 1 and "administrator" in r.stderr and "Traceback" not in r.stderr
    r = cli(tmp_path, db_url, "admin", "stats", "--server", server.url)
    assert r.returncode == 2 and "TRADEALERTS_ADMIN_TOKEN" in r.stderr
