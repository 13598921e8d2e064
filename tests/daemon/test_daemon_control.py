"""``tradealerts daemon start/status/stop/logs`` as a person runs them, and the login service
files written by ``install`` (HOME and XDG_CONFIG_HOME point into the test's folder)."""

from __future__ import annotations

import json
import os
import plistlib
import re
import signal
import sys
from pathlib import Path

from tests.daemon.daemonkit import DaemonProc, fire, new_user
from tests.server.serverkit import Running, wait_until

from tradealerts.daemon.control import wait_gone


def _pid(stdout: str) -> int:
    match = re.search(r"\(pid (\d+)\)", stdout)
    assert match, stdout
    return int(match.group(1))


def test_start_status_stop_stale_lock_and_second_start_refused(
    server: Running, tmp_path: Path, email: str
) -> None:
    d = new_user(server, tmp_path, email)
    d.extra_env["PATH"] = os.environ.get("PATH", "")
    r = d.cli("daemon", "start", "--notifier", "bell", "--exec", d.exec_cmd())
    assert r.returncode == 0, r.stderr
    pid = _pid(r.stdout)
    try:
        assert f"Log: {d.log}" in r.stdout
        wait_until(
            lambda: json.loads(d.cli("daemon", "status", "--json").stdout)["connected"],
            30,
            "connected",
        )
        status = json.loads(d.cli("daemon", "status", "--json").stdout)
        assert status["running"] and status["pid"] == pid and status["notifier"] == "bell"
        assert status["server"] == server.url and status["uptime_seconds"] >= 0
        table = d.cli("daemon", "status").stdout
        assert f"yes (pid {pid})" in table and "Connected" in table

        again = d.cli("daemon", "start")
        assert again.returncode == 1
        assert f"already running (pid {pid})" in again.stderr
        assert "tradealerts daemon stop" in again.stderr

        fire(server, email)
        d.wait_deliveries(1)  # detached, it still works: the terminal that started it is gone
        logs = d.cli("daemon", "logs", "-n", "3").stdout
        assert "delivered event" in logs

        os.kill(pid, signal.SIGKILL)  # the pid file stays behind; the OS lock does not
        assert wait_gone(pid)
        assert (d.folder / "daemon.pid").read_text().strip() == str(pid)
        assert json.loads(d.cli("daemon", "status", "--json").stdout)["running"] is False
        r = d.cli("daemon", "start", "--notifier", "bell", "--exec", d.exec_cmd())
        assert r.returncode == 0, r.stderr
        pid = _pid(r.stdout)

        stopped = d.cli("daemon", "stop")
        assert stopped.returncode == 0 and f"(pid {pid})" in stopped.stdout
        assert wait_gone(pid)
        assert "received SIGTERM: stopping" in d.log_text()
        assert "No daemon is running" in d.cli("daemon", "stop").stdout
        status = json.loads(d.cli("daemon", "status", "--json").stdout)
        assert status["running"] is False and status["last_event_id"] == 1
        assert status["alerts_today"] == 1
    finally:
        if wait_gone(pid, 0.1) is False:
            os.kill(pid, signal.SIGKILL)


def test_start_reports_a_daemon_that_cannot_run(tmp_path: Path) -> None:
    d = DaemonProc(tmp_path, "http://127.0.0.1:9")
    r = d.cli("daemon", "start", "--notifier", "notify-send", PATH="/nonexistent")
    assert r.returncode == 1
    assert "exited at once" in r.stderr and "notify-send" in r.stderr


def test_usage_problems_exit_2(tmp_path: Path) -> None:
    d = DaemonProc(tmp_path, "http://127.0.0.1:9")
    r = d.cli("daemon", "run", "--quiet-hours", "late")
    assert r.returncode == 2 and "HH:MM-HH:MM" in r.stderr


def _installed(d: DaemonProc, platform: str, **env: str) -> tuple[Path, str]:
    r = d.cli(
        "daemon", "install", "--platform", platform, "--no-sound", "--symbols", "eurusd", **env
    )
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.split("Wrote ", 1)[1].splitlines()[0])
    command = r.stdout.strip().splitlines()[-1].strip()
    return path, command


def test_install_writes_the_unit_with_the_absolute_command(tmp_path: Path) -> None:
    d = DaemonProc(tmp_path, "http://127.0.0.1:8123")
    exe = str(Path(sys.executable).parent / "tradealerts")
    unit, enable = _installed(d, "linux")
    assert unit == tmp_path / "config/systemd/user/tradealerts-daemon-127.0.0.1-8123.service"
    text = unit.read_text()
    assert (
        f"ExecStart={exe} --server http://127.0.0.1:8123 daemon run --notifier auto "
        "--no-sound --symbols EURUSD\n"
    ) in text
    assert f"Environment=TRADEALERTS_HOME={d.home}\n" in text
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text
    assert enable == "systemctl --user enable --now tradealerts-daemon-127.0.0.1-8123.service"
    r = d.cli("daemon", "uninstall", "--platform", "linux")
    assert r.returncode == 0 and not unit.exists()
    assert "systemctl --user disable --now" in r.stdout
    assert "No login service" in d.cli("daemon", "uninstall", "--platform", "linux").stdout


def test_install_writes_a_launchd_agent_and_a_windows_startup_script(tmp_path: Path) -> None:
    d = DaemonProc(tmp_path, "http://127.0.0.1:8123")
    exe = str(Path(sys.executable).parent / "tradealerts")
    plist_path, load = _installed(d, "darwin")
    assert (
        plist_path == tmp_path / "Library/LaunchAgents/com.tradealerts.daemon.127.0.0.1-8123.plist"
    )
    plist = plistlib.loads(plist_path.read_bytes())
    assert plist["ProgramArguments"] == [
        exe,
        "--server",
        "http://127.0.0.1:8123",
        "daemon",
        "run",
        "--notifier",
        "auto",
        "--no-sound",
        "--symbols",
        "EURUSD",
    ]
    assert plist["RunAtLoad"] is True and plist["EnvironmentVariables"] == {
        "TRADEALERTS_HOME": str(d.home)
    }
    assert load == f"launchctl load -w {plist_path}"

    cmd_path, _ = _installed(d, "win32", APPDATA=str(tmp_path / "AppData"))
    startup = tmp_path / "AppData/Microsoft/Windows/Start Menu/Programs/Startup"
    assert cmd_path == startup / "tradealerts-daemon-127.0.0.1-8123.cmd"
    lines = cmd_path.read_bytes().decode().split("\r\n")
    assert lines[0] == "@echo off" and lines[1] == f'set "TRADEALERTS_HOME={d.home}"'
    assert lines[2].startswith(f'"{exe}" "--server" "http://127.0.0.1:8123" "daemon" "start"')


def test_daemon_help_imports_nothing_heavy() -> None:
    import subprocess

    probe = (
        "import sys, json\nsys.argv = ['tradealerts', 'daemon', 'start', '--help']\n"
        "from tradealerts.cli.app import app\ntry:\n    app()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.splitlines()[-1])
    heavy = [
        m
        for m in loaded
        if m.split(".")[0] in ("httpx", "desktop_notifier", "sqlite_utils", "dbus_fast", "rich")
        or (
            m.startswith(("tradealerts.daemon", "tradealerts.client"))
            # the language's light modules (standard library only): help texts are translated
            and m not in ("tradealerts.client", "tradealerts.client.lang")
        )
    ]
    assert heavy == []


def test_logs_shows_the_tail_and_follows_across_a_rotation(tmp_path: Path) -> None:
    import subprocess

    d = DaemonProc(tmp_path, "http://127.0.0.1:9")
    assert "No log yet" in d.cli("daemon", "logs").stdout
    d.folder.mkdir(parents=True)
    d.log.write_text("".join(f"line {i}\n" for i in range(10)))
    assert d.cli("daemon", "logs", "-n", "2").stdout == "line 8\nline 9\n"
    follower = subprocess.Popen(
        [sys.executable, "-m", "tradealerts", "daemon", "logs", "-f", "-n", "1"],
        env=d.env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    import threading

    guard = threading.Timer(30, follower.kill)  # a missed line fails the test, never hangs it
    guard.start()
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "line 9\n"
        with d.log.open("a") as f:
            f.write("line 10\n")
        assert follower.stdout.readline() == "line 10\n"
        d.log.rename(d.log.with_suffix(".log.1"))  # what the rotating handler does
        d.log.write_text("fresh 1\n")
        assert follower.stdout.readline() == "fresh 1\n"
    finally:
        guard.cancel()
        follower.kill()
        follower.wait(5)


def test_every_daemon_command_has_help_and_is_in_the_user_guide() -> None:
    from tradealerts.cli.daemon import app

    guide = (Path(__file__).parents[2] / "docs" / "user-guide.md").read_text()
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    assert sorted(names) == ["install", "logs", "run", "start", "status", "stop", "uninstall"]
    for command in app.registered_commands:
        assert command.callback is not None and (command.callback.__doc__ or "").strip()
        assert f"tradealerts daemon {command.callback.__name__}" in guide
