"""``--help`` in the user's language (issue #27): the real ``tradealerts`` command, before any
login, its language from ``LANG``. The help texts stay English literals in the code; the
``client`` catalog translates them where the command tree is built (``cli.help_language``),
so a German locale shows the German texts and ``C.UTF-8`` the English ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: each command's --help and a few phrases of it: (German, English), as the catalog says them
HELPS: dict[tuple[str, ...], list[tuple[str, str]]] = {
    (): [
        ("Fraktale Unterstützung/Widerstand", "Fractal support/resistance, trendlines"),
        ("Fehlerdetails zeigen.", "Show error details."),  # an option's help
        ("Die Paare, denen du folgst", "The pairs you follow"),  # a lazy command's line
    ],
    ("alerts",): [
        ("Preisalarme: anlegen, auflisten", "Price alerts: create, list"),
        ("Ein Alarm vollständig: jedes Feld", "One alert in full: every field"),
    ],
    ("alerts", "create"): [
        ("Einen Alarm anlegen, zum Beispiel:", "Create an alert, e.g.:"),
        ("(beliebige Schreibweise)", "(any case)"),  # an argument's help
        ("Mir auch eine E-Mail senden", "Also mail me when it fires."),  # an option's help
    ],
}


def _help(home: Path, args: tuple[str, ...], lang: str) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRADEALERTS_", "LC_")) and k != "LANG"
    }
    env.update(
        LANG=lang,
        TRADEALERTS_HOME=str(home),  # nobody logged in: the locale decides
        XDG_CONFIG_HOME=str(home / "config"),
        COLUMNS="80",  # Click wraps at 80 at most: the phrases are short enough
        PYTHONIOENCODING="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "tradealerts", *args, "--help"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.mark.parametrize("args", list(HELPS), ids=lambda a: " ".join(a) or "root")
def test_help_follows_the_locale(args: tuple[str, ...], tmp_path: Path) -> None:
    german = _help(tmp_path, args, "de_DE.UTF-8")
    english = _help(tmp_path, args, "C.UTF-8")
    for de, en in HELPS[args]:
        assert de in german, (args, de, german)
        assert en not in german, (args, en, german)
        assert en in english, (args, en, english)
    assert english != german
