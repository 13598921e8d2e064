"""Alerts as code in the user's language (issue #27): what ``alerts apply`` says of a file,
its problems and its plan, comes from the ``client`` catalog. Each expected text is read from
the catalog and must differ from the English one, so a message left in English (or a catalog
left empty) fails."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli
from tests.cli.test_cli_language import OTHERS, said

from tradealerts.core.i18n import LANGUAGES


def test_a_files_problems_in_each_language(person: Cli, tmp_path: Path) -> None:
    """Checked before anything is sent (no login needed): the locale speaks."""
    broken = tmp_path / "broken.toml"
    broken.write_text("[[alert]\nname = ", encoding="utf-8")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        '[[alert]]\nname = "a"\nsymbol = "EURUSD"\ntimeframe = "H1"\ncondition = "crossing_up"\n'
        "level = 1.1\n"
        '[[alert]]\nname = "a"\nsymbol = "EURUSD"\ntimeframe = "H1"\ncondition = "crossing_up"\n'
        "level = 1.2\n"
        '[[alert]]\nsymbol = "EURUSD"\ntimeframe = "H1"\ncondition = "crossing_up"\nlevel = 1.3\n'
        '[[alert]]\nname = "no spaces"\nsymbol = "EURUSD"\ntimeframe = "H1"\n'
        'condition = "crosing_up"\nlevel = 1.4\n',
        encoding="utf-8",
    )
    for lang in OTHERS:
        locale = f"{lang}_XX.UTF-8"
        r = person.run("alerts", "apply", str(broken), LANG=locale)
        assert r.returncode == 2, (lang, r.stderr)
        assert said(lang, "not valid {format}: {error}", format="TOML", error="") in r.stderr
        assert "not valid" not in r.stderr, (lang, r.stderr)

        r = person.run("alerts", "apply", str(wrong), LANG=locale)
        assert r.returncode == 2, (lang, r.stderr)
        head = said(lang, "{file}: {count} problem(s); nothing was sent or changed:",
                    file=wrong, count=4)  # fmt: skip
        assert head in r.stderr, (lang, r.stderr)
        for text in (
            said(lang, "alert {number}", number=2) + " (a): name: "
            + said(lang, "appears twice in the file"),
            said(lang, "alert {number}", number=3) + ": name: "
            + said(lang, "is required: apply matches alerts by name"),
            said(lang, "{name} is not a name: use {rule}", name="'no spaces'",
                 rule=said(lang, "letters, digits and . _ - : (1-64, starting with a letter "
                                 "or digit)")),
            said(lang, "Did you mean {names}?").split("{names}")[0],
        ):  # fmt: skip
            assert text in r.stderr, (lang, text, r.stderr)
        for english in ("problem(s)", "appears twice", "is required", "is not a name",
                        "Did you mean", "alert 2"):  # fmt: skip
            assert english not in r.stderr, (lang, english, r.stderr)

        r = person.run("alerts", "apply", str(wrong), "--format", "ini", LANG=locale)
        assert r.returncode == 2
        unknown = said(lang, "unknown format {format}; use toml, yaml or json", format="'ini'")
        assert unknown in r.stderr, (lang, r.stderr)


def test_the_plan_in_each_language(user: Cli, tmp_path: Path) -> None:
    """Sent, planned and applied: the plan's summary in the user's language."""
    file = tmp_path / "alerts.toml"
    file.write_text(
        '[[alert]]\nname = "eurusd-up"\nsymbol = "EURUSD"\ntimeframe = "H1"\n'
        'condition = "crossing_up"\nlevel = 1.5\n',
        encoding="utf-8",
    )
    counts = {"create": 1, "update": 0, "delete": 0, "unchanged": 0}
    for lang in OTHERS:
        user.ok("settings", "set", "language", lang)
        out = user.ok("alerts", "apply", str(file), "--dry-run")
        summary = said(lang, "{create} to create, {update} to change, {delete} to delete, "
                             "{unchanged} unchanged", **counts)  # fmt: skip
        assert said(lang, "Dry run: {summary}; nothing was changed.", summary=summary) in out, out
        assert "Dry run" not in out and "to create" not in out, (lang, out)
    out = user.ok("alerts", "apply", str(file))
    assert said(LANGUAGES[-1], "Applied: {summary}.", summary=summary) in out, out
