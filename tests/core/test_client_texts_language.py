"""The feed state and a notice's window as people read them (``client.feedstate``,
``client.notices``), shared by the CLI, the TUI and the daemon: English exactly as before,
another language's words and its weekday and month (Babel)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tradealerts.client.feedstate import feed_label
from tradealerts.client.lang import use_language
from tradealerts.client.notices import describe

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday
CLOSED = {"state": "closed", "next_change": "2026-12-08T22:00:00Z"}
DELAYED = {"state": "delayed", "since": "2026-12-07T11:05:00Z"}
WINDOW = {"message": "Upgrade", "at": "2026-12-07T22:00:00Z", "until": "2026-12-08T01:00:00Z"}


@pytest.fixture
def speak() -> Iterator[None]:
    yield
    use_language("en")  # this process speaks English again for the next test


def test_english_unchanged(speak: None) -> None:
    use_language("en")
    assert feed_label(CLOSED, UTC, NOW) == "market closed (opens Tue 22:00)"
    assert feed_label(DELAYED, UTC, NOW) == "data delayed since 11:05"
    assert feed_label({"state": "live"}) == "live"
    assert describe(WINDOW, UTC) == ("Maintenance Mon 07 Dec 22:00–Tue 08 Dec 01:00 UTC", "Upgrade")
    assert describe({"message": "Hi"}) == ("Notice from the server", "Hi")


def test_german_and_japanese(speak: None) -> None:
    use_language("de")
    assert feed_label(CLOSED, UTC, NOW) == "Markt geschlossen (öffnet Di. 22:00)"
    assert feed_label(DELAYED, UTC, NOW) == "Daten verzögert seit 11:05"
    assert describe(WINDOW, UTC) == ("Wartung Mo., 7. Dez. 22:00–Di., 8. Dez. 01:00 UTC", "Upgrade")
    assert describe({**WINDOW, "cancelled": True}, UTC)[0] == "Wartung abgesagt"
    use_language("ja")
    assert describe(WINDOW, UTC)[0] == "メンテナンス 12月7日(月) 22:00–12月8日(火) 01:00 UTC"
