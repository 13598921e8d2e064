"""The client side stays light: --help and parsing import no httpx/numpy/plotext, and no
client or CLI module imports the server or its dependencies."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import tradealerts.cli
import tradealerts.client

# pydantic is not listed: Typer itself loads it to coerce some parameter types
HEAVY_AT_START = ("httpx", "numpy", "plotext", "keyring", "rich")
OURS_LATER = ("tradealerts.client", "tradealerts.server", "tradealerts.core")
#: the language's few light modules (standard library only): texts are translated as built
LANGUAGE = {"tradealerts.client", "tradealerts.client.lang", "tradealerts.core",
            "tradealerts.core.i18n"}  # fmt: skip
SERVER_SIDE = ("tradealerts.server", "numpy", "fastapi", "sqlalchemy", "uvicorn", "starlette")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_help_and_parsing_import_nothing_heavy() -> None:
    for argv in (["--help"], ["alerts", "--help"], ["charts", "--help"], ["--version"]):
        code = (
            "import sys\n"
            f"sys.argv = ['tradealerts', *{argv!r}]\n"
            "from tradealerts.cli.app import app\n"
            "try:\n    app()\nexcept SystemExit:\n    pass"
        )
        loaded = _modules_after(code)
        heavy = sorted(
            m
            for m in loaded
            if m.split(".")[0] in HEAVY_AT_START or (m.startswith(OURS_LATER) and m not in LANGUAGE)
        )
        assert heavy == [], (argv, heavy)
        assert "typer" in loaded  # the probe really ran the app


def _run_app(argv: list[str]) -> set[str]:
    return _modules_after(
        "import sys\n"
        f"sys.argv = ['tradealerts', *{argv!r}]\n"
        "from tradealerts.cli.app import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )


def test_a_command_module_loads_only_for_its_own_command() -> None:
    helpers = {"app", "context", "lazy", "negatives", "output", "help_language", "help_extract"}
    commands = {m.name for m in pkgutil.iter_modules(tradealerts.cli.__path__)} - helpers
    assert {"alerts", "auth", "daemon", "market", "billing", "tui"} <= commands

    def ours(argv: list[str]) -> set[str]:
        loaded = _run_app(argv)
        return {m.removeprefix("tradealerts.cli.") for m in loaded} & commands

    assert ours(["--help"]) == set()  # the list of commands comes from app.COMMANDS
    assert ours(["--version"]) == set()
    assert ours(["alerts", "--help"]) == {"alerts"}
    assert ours(["daemon", "status", "--help"]) == {"daemon"}
    assert ours(["login", "--help"]) == {"auth"}


def test_no_client_or_cli_module_imports_the_server() -> None:
    names = [
        m.name
        for pkg in (tradealerts.client, tradealerts.cli)
        for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")
    ]
    assert "tradealerts.client.api" in names and "tradealerts.client.chart" in names
    loaded = _modules_after("\n".join(f"import {n}" for n in names) + "\nimport plotext")
    assert set(names) <= loaded
    bad = sorted(m for m in loaded if any(m == s or m.startswith(s + ".") for s in SERVER_SIDE))
    assert bad == []


def test_the_client_package_exports_are_complete_and_sorted() -> None:
    exported = tradealerts.client.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(tradealerts.client, name), name


def test_the_fail_keyring_backend_is_detected_by_keyring_itself(tmp_path) -> None:
    """No special case for the variable's value: keyring reads it and picks its backend."""
    import os

    probe = (
        "from tradealerts.client.credentials import CredentialStore\n"
        "print(CredentialStore('http://127.0.0.1:9').location())"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    env.update(
        TRADEALERTS_HOME=str(tmp_path), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    assert out == [f"{tmp_path / 'credentials.json'} (mode 0600: no usable keyring)"]
