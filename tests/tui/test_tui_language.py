"""The TUI in the user's language (issue #27): the dashboard at 80×24 in German, the longest
of the seven, as a pilot snapshot, and nothing in it cut or overlapping: every footer key
whole inside the screen, the status bar unshortened. The user's ``language`` is set on the
server; the login caches it and the app starts in it (the locale says English)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import serve_finished
from tests.server.serverkit import Running
from tests.tui.conftest import Person, log_in, prefer_german
from tests.tui.test_tui_snapshots import FROZEN, SERVER_NOW, _then

from tradealerts.client import AsyncClient
from tradealerts.client.lang import use_language
from tradealerts.core.i18n import translations
from tradealerts.tui import make_tui


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    for srv in serve_finished(module_tmp):
        srv.clock.now = SERVER_NOW
        yield srv


@pytest.fixture
def german_app(server: Running, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
               ) -> Iterator[Callable[[], Any]]:  # fmt: skip
    email = "snap-language-de@example.com"
    prefer_german(server, email, tmp_path, monkeypatch)

    def make() -> Any:
        asyncio.run(log_in(Person(server, email)))  # caches the language, as `login` does
        client = AsyncClient(server.url)
        client.base_url = "http://127.0.0.1:8000"  # shown only: the test port changes each run
        return make_tui(client, bell=False, clock=lambda: FROZEN)

    yield make
    use_language("en")  # the next test's app sets its own; this process speaks English again


def _german(msgid: str) -> str:
    text = translations("de", "client").gettext(msgid)
    assert text != msgid, msgid
    return text


async def _nothing_cut(pilot: Any) -> None:
    from textual.widgets._footer import FooterKey

    from tradealerts.tui.widgets.status_bar import StatusBar

    await _then()(pilot)
    screen = pilot.app.screen
    keys = list(screen.query(FooterKey))
    shown = {k.description for k in keys}
    for msgid in ("Help", "Quit", "Watch pair", "Unwatch", "Lines", "Fractals"):
        assert _german(msgid) in shown, (msgid, shown)
    width = pilot.app.size.width
    for key in keys:  # each key whole and inside the screen, none over the next
        assert key.region.right <= width and key.region.width >= key.get_content_width(
            key.region.size, key.region.size
        ), (key.description, key.region)
    for left, right in itertools.pairwise(keys):
        assert left.region.right <= right.region.x, (left.description, right.description)
    bar = screen.query_one(StatusBar)
    text = bar.render()
    assert text.cell_len <= bar.size.width, text.plain  # no "…": nothing of it cut
    assert _german("{remaining}/{limit} req left").rsplit("}", 1)[1] in text.plain


def test_dashboard_in_german_at_80x24(snap_compare: Any, german_app: Callable[[], Any]) -> None:
    assert snap_compare(german_app(), terminal_size=(80, 24), run_before=_nothing_cut)
