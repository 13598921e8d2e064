"""The owner's commands as subprocesses against a real database file, with the audit trail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tradealerts.server.db.models import AuditLog, MailMessage, Notification, User

EXE = Path(sys.executable).parent / "tradealerts-server"


def run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRADEALERTS_HOME": str(home)}
    env.pop("TRADEALERTS_DATABASE_URL", None)
    return subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, env=env, input=stdin, timeout=60
    )


def test_create_set_tier_list_delete_with_audit(tmp_path: Path) -> None:
    r = run(tmp_path, "admin", "create-user", "Owner@Example.com", "--admin", "--tier", "pro")
    assert r.returncode == 0, r.stderr
    assert "created owner@example.com (PRO, admin)" in r.stdout and "password: " in r.stdout
    r = run(
        tmp_path,
        "admin",
        "create-user",
        "sub@example.com",
        "--password-stdin",
        stdin="a good long passphrase\n",
    )
    assert r.returncode == 0 and "password:" not in r.stdout
    r = run(
        tmp_path,
        "admin",
        "create-user",
        "sub@example.com",
        "--password-stdin",
        stdin="a good long passphrase\n",
    )
    assert r.returncode == 1 and "already has an account" in r.stderr
    assert "Traceback" not in r.stderr
    r = run(tmp_path, "admin", "set-tier", "sub@example.com", "PRO")
    assert r.returncode == 0 and "FREE -> PRO" in r.stdout
    r = run(tmp_path, "admin", "users", "--tier", "PRO", "--json")
    users = json.loads(r.stdout)["users"]
    assert [u["email"] for u in users] == ["owner@example.com", "sub@example.com"]
    r = run(tmp_path, "admin", "set-tier", "nobody@example.com", "PRO")
    assert r.returncode == 1 and "no account nobody@example.com" in r.stderr
    r = run(tmp_path, "admin", "set-tier", "sub@example.com", "GOLD")
    assert r.returncode == 2 and "use FREE or PRO" in r.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'server.db'}")
    with Session(engine) as s:
        sub = s.scalar(select(User).where(User.email == "sub@example.com"))
        assert sub is not None and sub.tier == "PRO"
        assert (
            s.scalar(select(Notification.kind).where(Notification.user_id == sub.id))
            == "tier_changed"
        )
        assert s.scalar(select(MailMessage.subject).where(MailMessage.to == "sub@example.com")) == (
            "Your tradealerts plan is now PRO"
        )
    r = run(tmp_path, "admin", "delete-user", "sub@example.com", "--yes")
    assert r.returncode == 0
    with Session(engine) as s:
        actions = [(a.action, a.target) for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]
        assert actions == [
            ("create_user", "owner@example.com"),
            ("create_user", "sub@example.com"),
            ("set_tier", "sub@example.com"),
            ("delete_user", "sub@example.com"),
        ]
        assert s.scalar(select(User).where(User.email == "sub@example.com")) is None


def test_db_commands_and_bad_settings(tmp_path: Path) -> None:
    r = run(tmp_path, "db", "current")
    assert r.returncode == 0 and "empty" in r.stdout
    r = run(tmp_path, "db", "upgrade")
    from tradealerts.server.db.migrate import head

    assert r.returncode == 0 and f"database at revision {head()}" in r.stdout
    env_bad = {
        **os.environ,
        "TRADEALERTS_HOME": str(tmp_path),
        "TRADEALERTS_SECRET_KEY": "changeme",
    }
    r = subprocess.run(
        [str(EXE), "admin", "users"], capture_output=True, text=True, env=env_bad, timeout=60
    )
    assert r.returncode == 1 and "placeholder" in r.stderr and "Traceback" not in r.stderr


def test_serve_refuses_a_bad_replay_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "eurusd.csv"
    bad.write_text("time,open,high,low,close\n0,1,2,0.5,1\n0,1,2,0.5,1\n")
    r = run(tmp_path, "serve", "--feed", f"replay:{bad}", "--port", "0")
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "Error: feed: eurusd.csv, line 3: time 1970-01-01T00:00:00 is not after the previous "
        "bar's 1970-01-01T00:00:00 (duplicate or unsorted)"
    )


def test_serve_refuses_a_bad_port_or_host_in_one_line(tmp_path: Path) -> None:
    cases = {
        ("--port", "99999"): "port 99999 is not a TCP port",
        ("--port=-1",): "port -1 is not a TCP port",
        ("--host", "999.1.1.1"): "'999.1.1.1': not an address of this machine (--host)",
        ("--host", "192.0.2.7"): "192.0.2.7:8000 (Cannot assign requested address): --host",
    }
    for args, said in cases.items():
        for command in ("serve", "demo"):
            if command == "demo" and args[0] == "--host":
                continue  # the demo listens on loopback only
            r = run(tmp_path, command, *args)
            assert r.returncode == 1, (command, args, r.stdout, r.stderr)
            assert said in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
            assert "password" not in r.stdout  # the demo made no account it cannot serve
