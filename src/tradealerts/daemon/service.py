"""Start at login: a systemd --user unit (Linux), a launchd agent (macOS) or a Startup-folder
script (Windows), each running the installed ``tradealerts`` by its absolute path."""

from __future__ import annotations

import os
import plistlib
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from tradealerts.daemon.options import Options
from tradealerts.daemon.paths import server_slug

__all__ = ["ServiceFile", "command_path", "install", "service_file", "uninstall"]


@dataclass(frozen=True)
class ServiceFile:
    path: Path
    content: str
    enable: str  # the one command that turns it on
    disable: str  # the command that turns it off before the file is removed


def command_path() -> list[str]:
    """The absolute command that runs ``tradealerts``: the console script next to this
    interpreter when installed, else ``python -m tradealerts``."""
    scripts = Path(sys.executable).parent
    for name in ("tradealerts", "tradealerts.exe"):
        candidate = scripts / name
        if candidate.exists():
            return [str(candidate.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "tradealerts"]


def _platform(name: str | None) -> str:
    name = name or sys.platform
    if name.startswith("linux"):
        return "linux"
    if name == "darwin":
        return "darwin"
    if name in ("win32", "windows"):
        return "win32"
    raise ValueError(f"no login service for platform {name!r} (linux, darwin, win32)")


def _environment() -> dict[str, str]:
    """What the service must see that a login session may not set: our home and server."""
    return {k: v for k, v in os.environ.items() if k in ("TRADEALERTS_HOME",)}


def service_file(options: Options, platform: str | None = None) -> ServiceFile:
    """The file for ``platform`` (default: this one), not written yet."""
    plat = _platform(platform)
    slug = server_slug(options.server)
    argv = [*command_path(), "--server", options.server, "daemon", "run", *options.run_args()]
    env = _environment()
    home = Path.home()
    if plat == "linux":
        name = f"tradealerts-daemon-{slug}.service"
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        lines = [
            "[Unit]",
            f"Description=tradealerts daemon: desktop notifications for {options.server}",
            "After=network-online.target graphical-session.target",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={shlex.join(argv)}",
            *(f"Environment={shlex.quote(f'{k}={v}')}" for k, v in sorted(env.items())),
            "Restart=on-failure",
            "RestartSec=5",
            "",
            "[Install]",
            "WantedBy=default.target",
            "",
        ]
        return ServiceFile(
            config / "systemd" / "user" / name,
            "\n".join(lines),
            f"systemctl --user enable --now {name}",
            f"systemctl --user disable --now {name}",
        )
    if plat == "darwin":
        label = f"com.tradealerts.daemon.{slug}"
        path = home / "Library" / "LaunchAgents" / f"{label}.plist"
        plist: dict[str, object] = {
            "Label": label,
            "ProgramArguments": argv,
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "ProcessType": "Interactive",
        }
        if env:
            plist["EnvironmentVariables"] = env
        content = plistlib.dumps(plist, sort_keys=True).decode("utf-8")
        return ServiceFile(
            path,
            content,
            f"launchctl load -w {shlex.quote(str(path))}",
            f"launchctl unload -w {shlex.quote(str(path))}",
        )
    appdata = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    startup = appdata / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup"
    path = startup / f"tradealerts-daemon-{slug}.cmd"
    start = [*command_path(), "--server", options.server, "daemon", "start", *options.run_args()]
    sets = [f'set "{k}={v}"' for k, v in sorted(env.items())]
    content = "\r\n".join(["@echo off", *sets, subprocess_line(start), ""])
    return ServiceFile(path, content, f'"{path}"', "tradealerts daemon stop")


def subprocess_line(argv: list[str]) -> str:
    """A cmd.exe line: every argument double-quoted (cmd has no single quotes)."""
    return " ".join('"' + a.replace('"', '""') + '"' for a in argv)


def install(options: Options, platform: str | None = None) -> ServiceFile:
    """Write the service file for this platform (replacing an older one)."""
    svc = service_file(options, platform)
    svc.path.parent.mkdir(parents=True, exist_ok=True)
    svc.path.write_text(svc.content, encoding="utf-8", newline="")
    return svc


def uninstall(server: str, platform: str | None = None) -> ServiceFile | None:
    """Remove the service file of ``server``; None when there was none."""
    svc = service_file(Options(server=server), platform)
    if not svc.path.exists():
        return None
    svc.path.unlink()
    return svc
