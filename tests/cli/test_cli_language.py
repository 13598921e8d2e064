"""The command in the user's language (issue #27): the real ``tradealerts`` command against a
real server, its catalogs compiled from the committed ``.po`` files. Each expected text is
read from the catalog and must differ from the English one, so a command that ignored the
language (or a catalog left empty) fails."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.dates import format_date
from tests.cli.conftest import Cli, make_home

from tradealerts.core.i18n import LANGUAGES, translations

OTHERS = [lang for lang in LANGUAGES if lang != "en"]


def said(lang: str, msgid: str, **values: object) -> str:
    """``msgid`` as the ``client`` catalog of ``lang`` says it (never the English)."""
    text = translations(lang, "client").gettext(msgid)
    assert text != msgid, (lang, msgid, "not translated")
    return text.format(**values) if values else text


def error_line(lang: str, message: str) -> str:
    """stderr's line for an error (``Error:`` is ``Error:`` in Spanish too)."""
    return translations(lang, "client").gettext("Error: {message}").format(message=message) + "\n"


def _unlike(lang: str) -> str:
    """A locale that is not ``lang``: the user's preference must win over it."""
    return "ja_JP.UTF-8" if lang != "ja" else "de_DE.UTF-8"


def test_a_table_and_an_error_in_each_language(user: Cli, tmp_path: Path) -> None:
    make_home(tmp_path / "nobody")
    person = Cli(user.server, tmp_path / "nobody", "nobody@example.com")  # never logged in
    user.ok("watchlist", "add", "EURUSD", "H1")
    today = datetime.now(UTC).date()  # the item's stamp, shown in UTC (--utc)
    for lang in OTHERS:
        # the preference, set through the command, caches the language for later commands
        user.ok("settings", "set", "language", lang)
        table = user.ok("--utc", "watchlist", "list", LANG=_unlike(lang))
        for text in (said(lang, "Watchlist"), said(lang, "Added")):
            assert text in table, (lang, text, table)
        assert "Watchlist" not in table and "Added" not in table, (lang, table)
        # the item's date, the locale's way (07.12.26, 2026/12/07 …), never ISO
        assert format_date(today, "short", locale=lang) in table, (lang, table)
        assert today.isoformat() not in table, (lang, table)
        refused = user.run("watchlist", "remove", "GBPUSD", "H4", LANG=_unlike(lang))
        assert refused.returncode == 1
        reason = said(lang, "{pair} is not on your watchlist (see: tradealerts watchlist list).",
                      pair="GBPUSD H4")  # fmt: skip
        assert refused.stderr == error_line(lang, reason)
        # before login the locale speaks: LANG (LC_ALL over it, POSIX's order)
        out = person.run("watchlist", "list", LANG=f"{lang}_XX.UTF-8")
        nobody = said(lang, "You are not logged in on {server}: run: tradealerts login",
                      server=person.server.url)  # fmt: skip
        assert (out.returncode, out.stderr) == (3, error_line(lang, nobody))
    out = person.run("watchlist", "list", LANG="de_DE.UTF-8", LC_ALL="fr_FR.UTF-8")
    assert out.stderr.startswith(said("fr", "Error: {message}", message="")), out.stderr
    assert out.stderr != error_line("de", "")


def test_json_is_byte_identical_in_every_language(user: Cli) -> None:
    user.ok("watchlist", "add", "EURUSD", "H1")
    user.ok("alerts", "create", "EURUSD", "H1", "crossing_up", "1.5", "--expires", "7d")
    outputs: dict[str, tuple[str, ...]] = {}
    for lang in LANGUAGES:
        user.ok("settings", "set", "language", lang)
        outputs[lang] = tuple(
            user.ok(*args, "--json", LANG=f"{lang}_XX.UTF-8")
            for args in (("watchlist", "list"), ("alerts", "list"))
        )
    # the same person's table does change: the language really was applied
    assert said(LANGUAGES[-1], "Pair") in user.ok("alerts", "list")
    assert len(set(outputs.values())) == 1, outputs


def test_login_caches_the_users_language(person: Cli) -> None:
    """The preference set elsewhere (the server, another machine) applies from the login on,
    whatever the locale says."""
    from tests.server.serverkit import register_and_login

    tokens = register_and_login(person.server, person.email, person.password)
    with person.server.client(tokens["access_token"]) as c:
        c.patch("/api/user/preferences", json={"language": "de"}).raise_for_status()
    welcome = said("de", "Logged in as {email} ({tier}) on {server}.", email=person.email,
                   tier="FREE", server=person.server.url)  # fmt: skip
    assert welcome in person.login(LANG="fr_FR.UTF-8")
    assert said("de", "Watchlist") in person.ok("watchlist", "list", LANG="fr_FR.UTF-8")


# -- Click's own words and Japanese columns (no server: usage errors and --help) ----------
def _command(home: Path, lang: str, *args: str, columns: int = 80) -> tuple[int, str, str]:
    """The real command before any login, its language from ``LANG``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRADEALERTS_", "LC_")) and k != "LANG"
    }
    env.update(
        LANG=lang, TRADEALERTS_HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
        COLUMNS=str(columns), PYTHONIOENCODING="utf-8",
    )  # fmt: skip
    done = subprocess.run(
        [str(Path(sys.executable).with_name("tradealerts")), *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


#: a usage error of each kind Click words: (arguments, the command path, the error's sentence
#: and its fields)
USAGE_ERRORS = [
    (("watchlist", "add"), "tradealerts watchlist add",
     ("Missing argument {name}.", {"name": "'symbol'"})),
    (("alerts", "create", "--bogus"), "tradealerts alerts create",
     ("No such option: {name}", {"name": "--bogus"})),
    (("watchlist", "add", "EURUSD", "H1", "extra"), "tradealerts watchlist add",
     ("Got unexpected extra argument(s) ({args})", {"args": "extra"})),
    (("alerts", "create", "EURUSD", "H1", "crossing_up", "1", "--distance"),
     "tradealerts alerts create",
     ("Option {name} requires an argument.", {"name": "'--distance'"})),
]  # fmt: skip


def test_clicks_own_words_in_each_language(tmp_path: Path) -> None:
    """A usage error's "Usage:", "Try '…' for help.", "Error:" and sentence, and the help's
    section titles and --help option, in the locale's language; English as Click writes
    it, word for word."""
    for args, path, (sentence, fields) in USAGE_ERRORS:
        code, _out, err = _command(tmp_path, "C.UTF-8", *args)
        assert code == 2, (args, err)
        assert err.endswith(f"Error: {sentence.format(**fields)}\n"), err
        usage = err.startswith(f"Usage: {path} ")  # an option's own error comes without
        assert usage == (f"\nTry '{path} --help' for help.\n\n" in err), err
        for lang in OTHERS:
            code, _out, err = _command(tmp_path, f"{lang}_XX.UTF-8", *args)
            assert code == 2, (lang, args, err)
            assert err.endswith(error_line(lang, said(lang, sentence, **fields))), (lang, err)
            if usage:
                assert err.startswith(f"{said(lang, 'Usage:')} {path} "), (lang, err)
                hint = said(lang, "Try '{command} {option}' for help.", command=path,
                            option="--help")  # fmt: skip
                assert f"\n{hint}\n\n" in err, (lang, err)
    for lang in OTHERS:
        code, out, _err = _command(tmp_path, f"{lang}_XX.UTF-8", "alerts", "create", "--help")
        assert code == 0
        for title in ("Arguments", "Options"):
            heading = translations(lang, "client").gettext(title)  # "Options" in French too
            assert f"\n{heading}:\n" in out, (lang, title, out)
        assert said(lang, "Show this message and exit.") in out, (lang, out)
        assert "Usage:" not in out and "Show this message" not in out, (lang, out)


def _columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line)


@pytest.mark.parametrize("width", [60, 80])
def test_japanese_help_fits_the_terminal(tmp_path: Path, width: int) -> None:
    """Wide characters count two columns: every line of a Japanese --help fits the
    terminal's width, and nothing of the texts is lost to the wrapping."""
    for args in ((), ("alerts", "create")):
        code, out, _err = _command(tmp_path, "ja_JP.UTF-8", *args, "--help", columns=width)
        assert code == 0
        assert max(map(_columns, out.splitlines())) <= width, out
        flat = "".join("".join(line.split()) for line in out.splitlines())
        texts = ["Also mail me when it fires."] if args else ["Show times in UTC [default: "
                 "your timezone setting]; --json is always UTC."]  # fmt: skip
        for text in texts:
            assert "".join(said("ja", text).split()) in flat, (text, out)


def test_a_prompts_own_words_in_each_language() -> None:
    """Click's confirmation prompt and its mismatch error, as the password prompts of
    ``register`` and ``account password`` show them (a visible prompt: no terminal needed)."""
    script = (
        "import sys, typer\n"
        "from tradealerts.cli.help_click import install\n"
        "install(sys.argv[1])\n"
        "print(typer.prompt('Password', confirmation_prompt=True))\n"
    )
    for lang in LANGUAGES:
        done = subprocess.run(
            [sys.executable, "-c", script, lang], input="abc\nxyz\nabc\nabc\n",
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        catalog = translations(lang, "client")
        again = catalog.gettext("Repeat for confirmation")
        mismatch = catalog.gettext("Error: The two entered values do not match.")
        assert (lang == "en") == (again == "Repeat for confirmation"), lang
        assert done.stdout.count(f"{again}: ") == 2, (lang, done.stdout)
        assert mismatch in done.stdout + done.stderr, (lang, done.stdout, done.stderr)
        assert done.stdout.endswith("abc\n")


def test_a_mistyped_email_is_refused_in_the_locales_language(tmp_path: Path) -> None:
    """``register --email`` checks the address before asking the server: the refusal in the
    locale's language (the validator's own reason, English only, shown in English alone)."""
    code, _out, err = _command(tmp_path, "C.UTF-8", "register", "--email", "not-an-address")
    assert code == 2, err
    assert "--email: 'not-an-address' is not an email address: " in err, err
    for lang in OTHERS:
        code, _out, err = _command(tmp_path, f"{lang}_XX.UTF-8", "register", "--email", "x@")
        assert code == 2, (lang, err)
        assert said(lang, "--email: {value} is not an email address.", value="'x@'") in err, err
