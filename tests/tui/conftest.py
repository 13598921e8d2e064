"""Fixtures for TUI tests: one real server per module on loopback, fed by the replay file
(ticks and closed bars flowing while the tests run), and apps driven by Textual's pilot."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import _serve
from tests.server.serverkit import (
    DATA,
    DEADLINE_SCALE,
    PW,
    Running,
    deadline_after,
    register_and_login,
)

from tradealerts.client import AsyncClient
from tradealerts.client.lang import use_language
from tradealerts.tui import make_tui
from tradealerts.tui.app import TradeAlertsApp
from tradealerts.tui.screens.account import AccountScreen

_ids = itertools.count(1)
#: Bars a second the replay streams: a price frame every 1 s, a closed H1 bar every 4 s
#: (each closed bar of the open chart costs one request of a FREE user's 60 an hour).
REPLAY_SPEED = 0.25


@pytest.fixture(autouse=True)
def english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app speaks the locale's language before a login caches the user's: English here,
    whatever the machine running the tests says (a test of another language sets its own)."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tui")


#: The settings of the TUI tests' server: the replay file streaming while the tests run.
LIVE_REPLAY: dict[str, Any] = {
    "feed": f"replay:{DATA / 'eurusd_h1.csv'}",
    "replay_speed": REPLAY_SPEED,
    "history_bars": 800,
    "stream_heartbeat_seconds": 1.0,
}


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    yield from _serve(module_tmp, **LIVE_REPLAY)


@dataclass
class Person:
    server: Running
    email: str
    password: str = PW


@pytest.fixture
def person(server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Person:
    """A verified FREE user, not logged in on this machine (a home of their own, tokens in a
    0600 file: no keyring)."""
    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("TRADEALERTS_TOKEN", raising=False)
    email = f"tui{next(_ids)}-{os.getpid()}@example.com"
    register_and_login(server, email)
    return Person(server, email)


async def log_in(person: Person) -> None:
    """Log in the way ``tradealerts login`` does (the session stored on this machine)."""
    async with AsyncClient(person.server.url) as c:
        await c.login(person.email, person.password)


@pytest.fixture
def make_app(person: Person) -> Callable[..., TradeAlertsApp]:
    def make(**options: Any) -> TradeAlertsApp:
        options.setdefault("bell", False)
        return make_tui(AsyncClient(person.server.url), **options)

    return make


async def until(pilot: Any, predicate: Callable[[], Any], timeout: float = 15.0,
                what: str = "condition") -> Any:  # fmt: skip
    """Let the app run until ``predicate()`` is truthy (bounded, ``DEADLINE_SCALE``)."""
    deadline = deadline_after(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def started(pilot: Any) -> None:
    app = pilot.app
    await asyncio.wait_for(app.session_started.wait(), 20 * DEADLINE_SCALE)
    await until(pilot, lambda: app.store.connection == "live", what="the stream")


async def open_account(pilot: Any) -> AccountScreen:
    """``U``: the account screen, once its profile has loaded."""
    app = pilot.app
    await pilot.press("U")
    screen = await until(pilot, lambda: app.screen if isinstance(app.screen, AccountScreen)
                         else None, what="the account screen")  # fmt: skip
    await until(pilot, lambda: "Alert bell" in str(screen.query_one("#profile").render()))
    return screen


def shown_actions(screen: Any) -> set[str]:
    """The actions the footer offers (what check_action leaves visible)."""
    return {a.binding.action for a in screen.active_bindings.values() if a.binding.show}


def toasts(app: TradeAlertsApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.fixture
async def running(make_app: Callable[..., TradeAlertsApp], person: Person
                  ) -> AsyncIterator[Any]:  # fmt: skip
    """A logged-in person's app on the dashboard, stream live."""
    await log_in(person)
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await started(pilot)
        yield pilot


def prefer_german(server: Running, email: str, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A verified user whose ``language`` is German on the server, on a machine whose locale
    says English (the preference, not the locale, must say German), not logged in here yet."""
    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("LANG", "C.UTF-8")
    for name in ("LC_ALL", "LC_MESSAGES", "TRADEALERTS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    tokens = register_and_login(server, email)
    with server.client(tokens["access_token"]) as c:
        c.patch("/api/user/preferences", json={"language": "de"}).raise_for_status()


@asynccontextmanager
async def german_pilot(server: Running, email: str, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:  # fmt: skip
    """The pilot of a German-speaking user's app (``prefer_german``), logged in the way
    ``login`` does (which caches the language), session loaded and stream live."""
    prefer_german(server, email, tmp_path, monkeypatch)
    await log_in(Person(server, email))
    app = make_tui(AsyncClient(server.url), bell=False)
    try:
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await started(pilot)
            yield pilot
    finally:
        use_language("en")  # this process speaks English again for the next test
