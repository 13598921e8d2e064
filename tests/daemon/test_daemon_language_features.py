"""The daemon's feed-state and maintenance-notice notifications in the user's language
(issues #27, #29), shown by a real D-Bus notification server (dunst) and read back from its
history; the user chose the language with ``tradealerts settings set language``, the locale
says English. The expected texts come from the catalog and differ from the English ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.daemon.daemonkit import DaemonProc, Desktop, new_user, start_desktop, store_login
from tests.server.feedkit import feed_server, tick_until_seen
from tests.server.noticekit import announce
from tests.server.serverkit import Running, register_and_login, wait_until

from tradealerts.core.i18n import translations


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    d = start_desktop(tmp_path / "desktop")
    yield d
    d.stop()


def said(lang: str, msgid: str, **values: object) -> str:
    text = translations(lang, "client").gettext(msgid)
    assert text != msgid, (lang, msgid, "not translated")
    return text.format(**values) if values else text


def test_a_notice_in_german(
    make_server: Callable[..., Running],
    tmp_path: Path,
    email: str,
    desktop: Desktop,
    daemons: list[DaemonProc],
) -> None:
    srv = make_server(stream_heartbeat_seconds=1.0, notice_poll_seconds=0.2)
    d = new_user(srv, tmp_path, email, **desktop.env)
    daemons.append(d)
    assert d.cli("settings", "set", "language", "de").returncode == 0
    d.start("--notifier", "desktop", LANG="en_US.UTF-8")
    d.wait_connected()
    announce(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "owner", "Upgrading the feed")

    def shown() -> list[tuple[str, str]]:
        return [(n["summary"], n["body"]) for n in desktop.history()]

    wait_until(lambda: shown(), 30, "the notice on the desktop")
    title = said("de", "Notice from the server")
    heading = translations("de", "client").gettext("tradealerts: {title}").format(title=title)
    assert shown() == [(heading, "Upgrading the feed")]


def test_a_feed_delay_and_its_return_in_french(
    tmp_path: Path, desktop: Desktop, daemons: list[DaemonProc]
) -> None:
    with feed_server(tmp_path / "srv", access_token_minutes=10_080) as (srv, mt5):
        email = "daemon-feed-fr@example.com"
        tokens = register_and_login(srv, email)
        c = srv.client(tokens["access_token"])
        assert c.post("/api/watchlist", json={"symbol": "EURUSD", "timeframe": "H1"}).is_success
        assert c.patch("/api/user/preferences", json={"language": "fr"}).is_success
        d = DaemonProc(tmp_path / "me", srv.url, dict(desktop.env))
        store_login(d.home, srv.url, tokens, email)
        daemons.append(d)
        assert d.cli("settings", "show").returncode == 0  # caches the preference (fr)
        tick_until_seen(srv, mt5, tokens["access_token"])
        d.start("--notifier", "desktop", "--feed-down-after", "0.5", LANG="en_US.UTF-8")
        d.wait_connected()

        def shown() -> list[dict[str, str]]:
            return desktop.history()

        srv.clock.advance(seconds=45)  # the feed stalls
        wait_until(lambda: len(shown()) >= 1, 20, "the delay's notification")
        mt5._advance(5.0)  # prices again
        wait_until(lambda: len(shown()) >= 2, 20, "the return's notification")
        down, back = shown()[:2]
        delayed = said("fr", "data delayed since {time}", time="")
        assert down["summary"].startswith(f"tradealerts : EURUSD {delayed}"), down
        assert down["body"] == said(
            "fr",
            "The server has had no price of {symbol} for a while: alerts on it cannot fire "
            "until its data is back.",
            symbol="EURUSD",
        )
        assert back["summary"] == said("fr", "tradealerts: {symbol} data is back", symbol="EURUSD")
