"""The TUI against a server whose replay has finished (answers stay the same between two
requests): conditional chart re-reads, the request quota, colours, the account's settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.conftest import serve_finished
from tests.server.serverkit import Running, fire_event
from tests.tui.conftest import Person, log_in, open_account, started, toasts, until
from textual.widgets import Input

from tradealerts.client import AsyncClient, endpoints
from tradealerts.tui.screens.account import TotpOffScreen, TotpOnScreen


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    yield from serve_finished(module_tmp)


def _not_modified(server: Running) -> int:
    """304 answers the server counted on the indicators route (its own usage figures)."""
    totals, _ = server.app.state.usage.current_totals()
    return int(totals.get(("indicators", 1), 0))


async def test_reopening_a_chart_sends_its_etag_and_a_304_keeps_the_payload(make_app, person):
    await log_in(person)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        store = app.store
        held = store.payloads[("EURUSD", "H1")]
        assert store.etags[("EURUSD", "H1")]
        before = _not_modified(person.server)
        await pilot.press("6")  # H4, then back to H1: nothing moved on the server meanwhile
        await until(pilot, lambda: ("EURUSD", "H4") in store.etags, what="the H4 payload")
        await pilot.press("4")
        await until(pilot, lambda: app.not_modified == 1, what="the 304")
        assert _not_modified(person.server) == before + 1
        assert store.payloads[("EURUSD", "H1")] is held  # kept, not replaced by an empty body
        assert store.chart_payload() is held


async def test_a_spent_quota_says_when_it_frees(make_app, person: Person):
    await log_in(person)
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await started(pilot)
        token = app.client.credentials.access_token
        with person.server.client(token) as c:  # the rest of the hour's 60, spent elsewhere
            while (r := c.get("/api/alerts")).status_code != 429:
                assert r.status_code == 200
        reset = int(r.headers["X-RateLimit-Reset"])
        await pilot.press("A", "r")  # the alerts screen, reloaded: refused
        from datetime import UTC, datetime

        frees = datetime.fromtimestamp(reset, UTC).strftime("%H:%M")  # preference: UTC
        status = app.screen.query_one("StatusBar")
        await until(pilot, lambda: "quota used" in str(status.render()), what="the quota")
        assert f"quota used, frees at {frees}" in str(status.render())


async def test_the_bell_is_a_stored_setting_and_off_means_silent(make_app, person: Person):
    await log_in(person)
    app = make_app(bell=True)
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]  # Textual's, not ours
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await started(pilot)
        fire_event(person.server, person.email, message="first")
        await until(pilot, lambda: len(app.store.feed) == 1, what="the first alert")
        assert rings == [1]
        screen = await open_account(pilot)
        assert "Alert bell: on" in str(screen.query_one("#profile").render())
        await pilot.press("b")
        await until(pilot, lambda: "Alert bell: off" in str(screen.query_one("#profile").render()))
        async with AsyncClient(person.server.url) as c:  # stored on the server, for every machine
            assert (await c.run(endpoints.preferences())).alert_bell is False
        fire_event(person.server, person.email, message="second")
        await until(pilot, lambda: len(app.store.feed) == 2, what="the second alert")
        assert any("second" in t for t in toasts(app))  # still shown, only not rung
        assert rings == [1]
    # a new session on another machine reads the setting from the server
    app2 = make_app(bell=True)
    app2.bell = lambda: rings.append(2)  # type: ignore[method-assign]
    async with app2.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        fire_event(person.server, person.email, message="third")
        await until(pilot, lambda: any(f.data["message"] == "third" for f in app2.store.feed))
        assert rings == [1]


async def test_two_factor_on_and_off_from_the_account_screen(make_app, person: Person):
    import pyotp

    await log_in(person)
    app = make_app()
    srv = person.server
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await started(pilot)
        screen = await open_account(pilot)
        assert "Two-factor sign-in: off" in str(screen.query_one("#profile").render())
        await pilot.press("2")
        form = await until(pilot, lambda: app.screen if isinstance(app.screen, TotpOnScreen)
                           else None)  # fmt: skip
        secret_text = lambda: str(form.query_one("#secret").render())  # noqa: E731
        await until(pilot, lambda: "authenticator" in secret_text(), what="the secret")
        secret = secret_text().split("\n")[1].strip()
        totp = pyotp.TOTP(secret)
        error = form.query_one("#error")
        form.query_one("#code", Input).value = "12345"
        await pilot.click("#enable")
        await until(pilot, lambda: "6 digits" in str(error.render()))
        right = totp.at(srv.clock())
        form.query_one("#code", Input).value = f"{(int(right) + 1) % 1_000_000:06d}"
        form.query_one("#code", Input).focus()
        await pilot.press("enter")  # enter in the field sends too
        await until(pilot, lambda: "two-factor code is wrong" in str(error.render()))
        assert app.screen is form
        form.query_one("#code", Input).value = right
        # Textual's Button ignores a click while its 0.2 s press effect shows (-active)
        await until(pilot, lambda: not form.query_one("#enable").has_class("-active"))
        await pilot.click("#enable")
        await until(pilot, lambda: app.screen is screen, what="the form closed")
        await until(pilot, lambda: "Two-factor sign-in: on" in
                    str(screen.query_one("#profile").render()))  # fmt: skip
        async with AsyncClient(srv.url) as c:
            assert (await c.run(endpoints.me())).totp_enabled

        srv.clock.advance(seconds=30)  # the code just used is spent: the next one turns it off
        await pilot.press("2")
        off = await until(pilot, lambda: app.screen if isinstance(app.screen, TotpOffScreen)
                          else None)  # fmt: skip
        off.query_one("#password", Input).value = "not my password"
        off.query_one("#code", Input).value = totp.at(srv.clock())
        await pilot.click("#disable")
        await until(pilot, lambda: "password is wrong" in str(off.query_one("#error").render()))
        off.query_one("#password", Input).value = person.password
        await until(pilot, lambda: not off.query_one("#disable").has_class("-active"))
        await pilot.click("#disable")
        await until(pilot, lambda: app.screen is screen, what="the form closed")
        await until(pilot, lambda: "Two-factor sign-in: off" in
                    str(screen.query_one("#profile").render()))  # fmt: skip
        assert app.store.connection == "live"  # this session was kept


async def test_upgrade_on_a_server_without_billing_says_whom_to_ask(make_app, person: Person):
    await log_in(person)
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await started(pilot)
        screen = await open_account(pilot)
        upgrade = screen.query_one("#upgrade")
        assert "u opens the payment page" in str(upgrade.render())
        await pilot.press("u")  # the server answers 503 billing_disabled
        await until(pilot, lambda: "takes no online payments" in str(upgrade.render()))
        assert app.store.connection == "live"
