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
from tests.server.serverkit import Running
from tests.tui.conftest import LIVE_REPLAY, german_pilot, until

from tradealerts.core.i18n import translations
from tradealerts.tui.widgets.notice_banner import NoticeBanner


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    """This module's own server (its notice must not show in other modules' screens)."""
    yield from _serve(module_tmp, **LIVE_REPLAY, notice_poll_seconds=0.2)


@pytest.fixture
async def german(server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                 ) -> AsyncIterator[Any]:  # fmt: skip
    async with german_pilot(server, "tui-notice-de@example.com", tmp_path, monkeypatch) as pilot:
        yield pilot


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
