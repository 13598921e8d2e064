"""The TUI against a server whose replay has finished (answers stay the same between two
requests): conditional chart re-reads, the request quota, colours, the account's settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.server.serverkit import Running
from tests.tui.conftest import Person, log_in, serve_finished, started, until


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
