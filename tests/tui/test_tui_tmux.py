"""The real ``tradealerts tui`` command in a real terminal (tmux): it starts on the dashboard
with data, keys work, ``q`` quits; and the short commands never load Textual."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.server.serverkit import deadline_after, wait_until
from tests.tui.conftest import Person, log_in

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux (make test-deps)")


class Tmux:
    """One tmux server of our own (``-L``), one session running a command."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                             text=True, check=False, timeout=10)  # fmt: skip
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tui")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = deadline_after(timeout)
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed; the screen:\n{screen}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return "tui" in self.run("list-sessions", "-F", "#{session_name}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(f"tradealerts-test-{os.getpid()}-{tmp_path.name}")
    yield t
    t.run("kill-server")


async def test_the_real_command_in_tmux(person: Person, tmux: Tmux, tmp_path: Path) -> None:
    await log_in(person)
    env = {
        "TRADEALERTS_HOME": os.environ["TRADEALERTS_HOME"],
        "TRADEALERTS_SERVER": person.server.url,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    exports = " ".join(f"{k}={v!s}" for k, v in env.items())
    command = f"env -i {exports} {sys.executable} -m tradealerts tui --symbol eurusd --no-bell"
    tmux.run("new-session", "-d", "-s", "tui", "-x", "100", "-y", "30", command)
    screen = tmux.wait_for("● live")  # bench_tui.py times the start
    assert "EURUSD H1" in screen and "FREE" in screen and "Lines:" in screen, screen
    tmux.run("send-keys", "-t", "tui", "5")  # H2: locked on FREE
    tmux.wait_for("needs the PRO plan")
    tmux.run("send-keys", "-t", "tui", "A")
    screen = tmux.wait_for("Alerts: 0 active of 5 on FREE")
    tmux.run("send-keys", "-t", "tui", "?")
    tmux.wait_for("Keys on this screen")
    tmux.run("send-keys", "-t", "tui", "Escape")
    deadline = time.monotonic() + 10
    while "Keys on this screen" in tmux.screen() and time.monotonic() < deadline:
        time.sleep(0.1)  # a key right after Escape would read as alt+key
    tmux.run("send-keys", "-t", "tui", "q")
    deadline = time.monotonic() + 10
    while tmux.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tmux.alive(), tmux.screen()


def _imported(argv: list[str]) -> set[str]:
    code = (
        "import sys, json\n"
        f"sys.argv = ['tradealerts', *{argv!r}]\n"
        "from tradealerts.cli.app import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return set(json.loads(out.splitlines()[-1]))


def test_only_the_tui_command_loads_textual() -> None:
    for argv in (["--help"], ["alerts", "--help"], ["charts", "--help"], ["tui", "--help"]):
        loaded = _imported(argv)
        assert not {m for m in loaded if m.split(".")[0] in ("textual", "textual_plotext")}, argv
        assert "tradealerts.tui" not in loaded, argv


_SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def _grey(colour: str) -> bool:
    """A shade of grey: the 16 colours' black/white/greys, the 256 palette's grey ramp and
    its cube's r=g=b entries, or an RGB with three equal parts."""
    parts = colour.split(";")
    if len(parts) == 1:
        return parts[0] in {"30", "37", "90", "97", "40", "47", "100", "107"}
    if parts[1] == "5":
        n = int(parts[2])
        return n in {0, 7, 8, 15, 16, 59, 102, 145, 188, 231} or n >= 232
    return parts[2] == parts[3] == parts[4]


def _colours(screen: str) -> set[str]:
    """The colour parameters of the SGR sequences on a captured screen (``-e``): "31",
    "38;5;208", "48;2;…"; attributes such as bold or reverse are left out."""
    out: set[str] = set()
    for params in _SGR.findall(screen):
        parts = params.replace(":", ";").split(";")
        i = 0
        while i < len(parts):
            p = parts[i]
            if p in ("38", "48", "58") and i + 1 < len(parts):
                n = 3 if parts[i + 1] == "5" else 5
                out.add(";".join(parts[i : i + n]))
                i += n
                continue
            if (
                p.isdigit()
                and (30 <= int(p) <= 49 or 90 <= int(p) <= 107)
                and p not in ("39", "49")
            ):
                out.add(p)
            i += 1
    return out


@pytest.mark.parametrize(
    ("term", "no_color"),
    [("xterm-16color", False), ("xterm-256color", True)],
    ids=["16-colour", "NO_COLOR"],
)
async def test_colours_degrade(person: Person, tmux: Tmux, tmp_path: Path, term: str,
                               no_color: bool) -> None:  # fmt: skip
    """A 16-colour terminal gets only its 16 colours; NO_COLOR gets no hue, only Textual's
    monochrome greys (bold, reverse and the text still say everything: the chart itself is
    drawn without colour)."""
    await log_in(person)
    env = {
        "TRADEALERTS_HOME": os.environ["TRADEALERTS_HOME"],
        "TRADEALERTS_SERVER": person.server.url,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "TERM": term,
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        **({"NO_COLOR": "1"} if no_color else {}),
    }
    exports = " ".join(f"{k}={v!s}" for k, v in env.items())
    command = f"env -i {exports} {sys.executable} -m tradealerts tui --no-bell"
    tmux.run("new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", command)
    tmux.wait_for("● live")

    def drawn() -> str | None:  # the dashboard with its chart and panels, styled
        screen = tmux.run("capture-pane", "-p", "-e", "-t", "tui")
        return screen if "EURUSD H1" in screen and "FREE" in screen and _colours(screen) else None

    screen = wait_until(drawn, 20, "a styled dashboard")
    colours = _colours(screen)
    assert colours, "no colour at all"  # a screen without any styling would prove nothing
    if no_color:
        assert all(_grey(c) for c in colours), sorted(c for c in colours if not _grey(c))
    else:
        assert all(";" not in c for c in colours), sorted(colours)  # no 256 or RGB colours
        assert not all(_grey(c) for c in colours), sorted(colours)  # some hue: not NO_COLOR
