"""The owner's maintenance notice in the TUI in the user's language (issues #27, #29): the
user's ``language`` is German on the server, the locale says English; ``admin announce`` as
its own process; the banner (pilot) and its toast say the catalog's German title."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import _serve
from tests.server.noticekit import announce
from tests.server.serverkit import Running, register_and_login
from tests.tui.conftest import LIVE_REPLAY, Person, log_in, started, until

from tradealerts.client import AsyncClient
from tradealerts.client.lang import use_language
from tradealerts.core.i18n import translations
from tradealerts.tui import make_tui
from tradealerts.tui.widgets.notice_banner import NoticeBanner


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    """This module's own server (its notice must not show in other modules' screens)."""
    yield from _serve(module_tmp, **LIVE_REPLAY, notice_poll_seconds=0.2)


@pytest.fixture
async def german(
    server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("LANG", "C.UTF-8")  # the preference, not the locale, says German
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.delenv("TRADEALERTS_TOKEN", raising=False)
    email = "tui-notice-de@example.com"
    tokens = register_and_login(server, email)
    with server.client(tokens["access_token"]) as c:
        c.patch("/api/user/preferences", json={"language": "de"}).raise_for_status()
    await log_in(Person(server, email))  # caches the language, as `login` does
    app = make_tui(AsyncClient(server.url), bell=False)
    try:
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await started(pilot)
            yield pilot
    finally:
        use_language("en")  # this process speaks English again for the next test


def _banner(app: Any) -> str:
    banners = list(app.screen.query(NoticeBanner))
    if len(banners) != 1 or not banners[0].display:
        return ""
    return str(banners[0].render())


async def test_the_banner_and_toast_in_german(
    german: Any, server: Running, module_tmp: Path
) -> None:
    app = german.app
    title = translations("de", "client").gettext("Notice from the server")
    assert title != "Notice from the server"
    announce(f"sqlite:///{module_tmp / 'server.db'}", module_tmp / "owner", "Neuer Host")
    text = await until(german, lambda: _banner(app), what="the banner")
    assert f"⚠ {title}: Neuer Host" in text, text
    assert "Notice from the server" not in text
    assert any(t.title == title and "Neuer Host" in str(t.message) for t in app._notifications)
