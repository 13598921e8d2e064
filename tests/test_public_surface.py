"""The public surface, held still while the code moves (issue #28): ``--help`` of every command
and subcommand of ``tradealerts`` and ``tradealerts-server`` (lazily loaded ones too), and the
server's ``/api/openapi.json``, equal to the snapshot in ``tests/data/public_surface/``.

The snapshot is one file per command (``tradealerts.alerts.create.txt``: that command's
``--help``) and ``openapi.json`` (the app factory's schema with default settings, FastAPI's key
order kept: route order decides which route matches). It is English (``LANG=C``, language
``en``), 100 columns wide, nobody logged in.

A change to the CLI or the API made on purpose: regenerate the snapshot, read its diff and
commit it with the change::

    TRADEALERTS_UPDATE_SURFACE=1 .venv/bin/pytest tests/test_public_surface.py
    git diff tests/data/public_surface/

The helps are rendered in one fresh process (``python tests/test_public_surface.py``: Click's
``CliRunner`` on the built command trees), so nothing an earlier test set (a language, a
variable read at import) leaks in; ``test_snapshot_is_the_real_programs_output`` checks that
this equals the installed programs' own ``--help`` for a sample of commands.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SNAPSHOT = Path(__file__).parent / "data" / "public_surface"
UPDATE = "TRADEALERTS_UPDATE_SURFACE"
COLUMNS = "100"
PROGRAMS = ("tradealerts", "tradealerts-server")
#: the snapshot's stand-in for the throwaway home folder (a default path shown in a help)
HOME = "<HOME>"


def _environment(home: Path) -> dict[str, str]:
    """A clean environment: English, a fixed width, no colours, an empty home (no login, no
    ``TRADEALERTS_*`` settings of the machine running the tests)."""
    env = {"PATH": os.environ.get("PATH", ""), "SYSTEMROOT": os.environ.get("SYSTEMROOT", "")}
    env.update(
        LANG="C",
        COLUMNS=COLUMNS,
        TERMINAL_WIDTH=COLUMNS,  # Rich's width (Typer reads it at import)
        LINES="50",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
        TRADEALERTS_HOME=str(home / "tradealerts"),
        PYTHONIOENCODING="utf-8",
        TERM="dumb",
        NO_COLOR="1",
    )
    return env


# --- the dump: runs in a fresh process (``python tests/test_public_surface.py``) --------------


def _typer_app(program: str) -> Any:
    """The Typer app of ``program``'s console script: found in the module of its entry point
    (``main``), so a module that moves with its entry point needs no change here."""
    import importlib
    from importlib.metadata import entry_points

    import typer

    (entry,) = entry_points(group="console_scripts", name=program)
    module = importlib.import_module(entry.module)
    apps = [v for v in vars(module).values() if isinstance(v, typer.Typer)]
    named = [a for a in apps if a.info.name == program] or apps
    if len(named) != 1:
        raise SystemExit(f"{program}: no single Typer app beside its main() in {entry.module}")
    return named[0]


def _helps(program: str) -> Iterator[tuple[str, str]]:
    """(``program.sub.command``, its ``--help``) for every command of ``program``."""
    import contextlib
    import io

    import typer
    import typer.main

    root = typer.main.get_command(_typer_app(program))

    def help_of(path: list[str]) -> str:
        # what the console script's ``app()`` does, stdout captured (Typer's CliRunner would
        # force Click's width to 80, which the real program does not)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            root.main(args=[*path, "--help"], prog_name=program)
        return out.getvalue()

    def visit(command: Any, path: list[str]) -> Iterator[tuple[str, str]]:
        yield ".".join([program, *path]), help_of(path)
        if hasattr(command, "list_commands"):  # a group (Typer's own vendored Click)
            ctx = typer.Context(command, info_name=program)
            for name in command.list_commands(ctx):  # a LazyGroup builds each one here
                sub = command.get_command(ctx, name)
                assert sub is not None, (path, name)
                yield from visit(sub, [*path, name])

    yield from visit(root, [])


def _openapi(home: Path) -> str:
    from tradealerts.server.app import create_app
    from tradealerts.server.settings import Settings

    schema: dict[str, Any] = create_app(Settings(home=home)).openapi()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _dump() -> dict[str, str]:
    """Every file of the snapshot, as it is now (name -> text)."""
    home = Path(os.environ["HOME"])
    from tradealerts.cli.app import start_language

    start_language([])  # as the program's main() does: LANG=C speaks English
    files = {f"{name}.txt": text for program in PROGRAMS for name, text in _helps(program)}
    files["openapi.json"] = _openapi(home / "server")
    return {name: text.replace(str(home), HOME) for name, text in files.items()}


# --- the tests ---------------------------------------------------------------------------------


def _start(home: Path, argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
        env=_environment(home), cwd=home,
    )  # fmt: skip


#: commands whose real --help is compared with the in-process one: both programs' roots (Click's
#: and Rich's formatting), a lazily built command of a lazy group, a nested Typer group's command
SAMPLES = [
    ("tradealerts",),
    ("tradealerts", "alerts", "create"),
    ("tradealerts-server",),
    ("tradealerts-server", "admin", "users"),
]


@dataclass
class Surface:
    now: dict[str, str]  # the snapshot's files as they are now
    real: dict[tuple[str, ...], str]  # the installed programs' --help of SAMPLES


@pytest.fixture(scope="module")
def surface() -> Iterator[Surface]:
    scripts = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp).resolve()
        # all at once: the dump and the real programs share the wait for their imports
        dump = _start(home, [sys.executable, __file__])
        real = {s: _start(home, [str(scripts / s[0]), *s[1:], "--help"]) for s in SAMPLES}
        out, err = dump.communicate(timeout=120)
        assert dump.returncode == 0, err
        helps: dict[tuple[str, ...], str] = {}
        for sample, process in real.items():
            help_, err = process.communicate(timeout=120)
            assert process.returncode == 0, (sample, err)
            helps[sample] = help_.replace(str(home), HOME)
        yield Surface(json.loads(out), helps)


def _snapshot() -> dict[str, str]:
    if not SNAPSHOT.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SNAPSHOT.iterdir())}


def _differences(before: dict[str, str], now: dict[str, str]) -> str:
    """A readable account: commands gone, commands new, then a unified diff per changed file."""
    parts: list[str] = []
    gone = sorted(before.keys() - now.keys())
    new = sorted(now.keys() - before.keys())
    if gone:
        parts.append("gone since the snapshot: " + ", ".join(gone))
    if new:
        parts.append("new since the snapshot: " + ", ".join(new))
    for name in sorted(before.keys() & now.keys()):
        if before[name] != now[name]:
            parts.append(
                "".join(
                    difflib.unified_diff(
                        before[name].splitlines(keepends=True),
                        now[name].splitlines(keepends=True),
                        fromfile=f"snapshot/{name}",
                        tofile=f"now/{name}",
                    )
                )
            )
    return "\n".join(parts)


def test_help_and_openapi_equal_the_snapshot(surface: Surface) -> None:
    if os.environ.get(UPDATE):
        shutil.rmtree(SNAPSHOT, ignore_errors=True)
        SNAPSHOT.mkdir(parents=True)
        for name, text in surface.now.items():
            (SNAPSHOT / name).write_text(text, encoding="utf-8")
        return
    differences = _differences(_snapshot(), surface.now)
    if differences:
        pytest.fail(
            "The public CLI/API differs from tests/data/public_surface/ "
            f"(on purpose? {UPDATE}=1 pytest {Path(__file__).name} rewrites it):\n\n" + differences,
            pytrace=False,
        )


def test_snapshot_is_the_real_programs_output(surface: Surface) -> None:
    for sample, help_ in surface.real.items():
        assert help_ == surface.now[".".join(sample) + ".txt"], sample


if __name__ == "__main__":
    json.dump(_dump(), sys.stdout)
