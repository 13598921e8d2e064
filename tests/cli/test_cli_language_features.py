"""The later features in the user's language (issue #27): push channels, the feed state
(``status``), maintenance notices (the CLI's line and the stored notification's title) and
backtests (``alerts test``), through the real ``tradealerts`` command and a real server.
Every expected text is read from the catalogs and differs from the English one (``said``),
so a string left out of ``_()`` (or a catalog left empty) fails here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from babel.numbers import format_decimal
from tests.cli.conftest import DATA, Cli, _serve, make_home
from tests.cli.test_cli_language import said
from tests.server.noticekit import announce
from tests.server.pushkit import PushReceiver
from tests.server.serverkit import Running, register_and_login, set_tier, wait_until

from tradealerts.core.i18n import translations

SECRET = "my-secret-topic"


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    """The replay of tests/data/eurusd_h1.csv played to its end (every bar held, the same
    backtest each time); loopback push receivers allowed; notices picked up quickly."""
    feed = f"replay:{DATA / 'eurusd_h1.csv'}"
    for srv in _serve(module_tmp, feed=feed, replay_speed=0.0, history_bars=800,
                      webhook_allowlist=["127.0.0.1/32"], notice_poll_seconds=0.2):  # fmt: skip
        engine = srv.app.state.engine
        deadline = time.monotonic() + 30
        while engine.state != "finished" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert engine.state == "finished"
        yield srv


@pytest.fixture(scope="module")
def receiver() -> Iterator[PushReceiver]:
    r = PushReceiver()
    yield r
    r.close()


def _trader(server: Running, root: Path, email: str, language: str) -> Cli:
    make_home(root)
    person = Cli(server, root, email)
    person.tokens = register_and_login(server, person.email, person.password)
    person.login()
    person.ok("settings", "set", "language", language)
    return person


def server_said(lang: str, msgid: str, **values: object) -> str:
    """``msgid`` as the ``server`` catalog of ``lang`` says it (never the English)."""
    text = translations(lang, "server").gettext(msgid)
    assert text != msgid, (lang, msgid, "not translated")
    return text.format(**values) if values else text


def test_channels_status_and_a_notice_in_german(
    server: Running, receiver: PushReceiver, module_tmp: Path
) -> None:
    user = _trader(server, module_tmp / "de", "kanal@example.com", "de")
    set_tier(server, user.email, "PRO")
    added = user.ok("channels", "add", "phone", f"ntfy://127.0.0.1:{receiver.port}/{SECRET}")
    assert added.startswith("Kanal phone angelegt (ntfy"), added
    assert said("de", "Added channel {name} ({service}: {masked}). Try it: tradealerts "
                "channels test {name}", name="phone", service="ntfy", masked="x").startswith(
        "Kanal phone angelegt")  # fmt: skip
    table = user.ok("channels", "list")
    for text in (said("de", "Push channels"), said("de", "Service"), said("de", "Default")):
        assert text in table, (text, table)
    assert "Push channels" not in table and "Service" not in table
    # the server's answer to a test push, in the reader's language
    tested = user.ok("channels", "test", "phone")
    assert tested.strip() == server_said("de", "A test push went to {name}.", name="'phone'")
    receiver.wait(1)
    refused = user.run("channels", "test", "team")
    assert refused.returncode == 1
    assert server_said("de", "You have no channel named {name} (yours: {names}).",
                       name="'team'", names="phone") in refused.stderr  # fmt: skip
    # the feed state (status): the title, the columns
    status = user.ok("status", "--all")
    for text in (said("de", "Market data"), said("de", "State"), said("de", "Hours")):
        assert text in status, (text, status)
    assert "Market data" not in status and "State" not in status
    # the owner's notice: the CLI's line, and the notification stored in German
    db_url = f"sqlite:///{module_tmp / 'server.db'}"
    n = announce(db_url, module_tmp / "owner", "Upgrading the feed")
    wait_until(
        lambda: (
            str(n["id"])
            in httpx.get(f"{server.url}/api/system/health").headers.get("X-TradeAlerts-Notice", "")
        ),
        10,
        "the server to pick the notice up",
    )
    r = user.run("whoami")
    assert r.returncode == 0, r.stderr
    title = said("de", "Notice from the server")
    line = said("de", "Notice: {title}: {body}", title=title, body="Upgrading the feed")
    assert line in r.stderr.splitlines(), r.stderr
    stored = user.json("notifications", "list")
    titles = [i["title"] for i in stored["items"] if i["kind"] == "announcement"]
    assert titles == [server_said("de", "Notice from the server")], stored


def test_a_backtest_in_spanish(server: Running, module_tmp: Path) -> None:
    user = _trader(server, module_tmp / "es", "prueba@example.com", "es")
    args = ("EURUSD", "H1", "crossing", "1.035", "--frequency", "once_per_bar", "--bars", "600")
    got = user.json("alerts", "test", *args)
    shown = user.ok("alerts", "test", *args)
    assert said("es", "Window: {bars} bars, {span}", bars=600, span="x")[:12] in shown
    assert said("es", "Fires: {count}{rate}", count=got["count"], rate="") in shown
    verdict = said("es", "Verdict: {verdict}", verdict="")
    assert verdict in shown and "Verdict:" not in shown and "Window:" not in shown
    assert said("es", "Reason") in shown
    # the server's note, said in the reader's language, in the CLI's Spanish line
    note = server_said("es", "Intra-bar conditions ran on each bar's OHLC path (open, the "
                       "nearer of high/low, the other, close), as MT5's tester does on "
                       "1-minute OHLC bars; bar-close conditions are exact.")  # fmt: skip
    assert got["note"] == note
    # each fire's reason: the server's sentence in Spanish, prices in Spanish digits
    assert got["fires"], got
    for fire in got["fires"]:
        level, price = (format_decimal(Decimal(f"{v:.5f}"), "#,##0.00000", locale="es") for v in
                        (fire["level"], fire["price"]))  # fmt: skip
        whole = server_said("es", "{symbol} {timeframe} crossed {level} at {price}",
                            symbol="EURUSD", timeframe="H1", level=level, price=price)  # fmt: skip
        assert fire["reason"] == whole.removeprefix("EURUSD H1 "), fire
    assert said("es", "Note: {note}", note="") + note[:30] in " ".join(shown.split())
    refused = user.run("alerts", "test", "0")
    assert refused.returncode != 0
    assert said("es", "The alert's id is 1 or more (see: tradealerts alerts list).") in (
        " ".join(refused.stderr.split())
    )
