"""The daemon's own notifications in the user's language (issue #27), shown by a real D-Bus
notification server (dunst) and read back from its history: the user chose German with
``tradealerts settings set language de`` and the daemon's process starts in it, though the
locale says English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.daemon.daemonkit import DaemonProc, Desktop, fire, new_user, start_desktop
from tests.server.serverkit import Running, wait_until

from tradealerts.core.i18n import translations


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    d = start_desktop(tmp_path / "desktop")
    yield d
    d.stop()


def test_missed_alerts_notice_in_german(
    server: Running, tmp_path: Path, email: str, desktop: Desktop, daemons: list[DaemonProc]
) -> None:
    from sqlalchemy import delete

    from tradealerts.daemon.state import DELIVERED, StateDB
    from tradealerts.server.db.models import Event

    summary = translations("de", "client").gettext("tradealerts: alerts may have been missed")
    assert summary != "tradealerts: alerts may have been missed"
    d = new_user(server, tmp_path, email, **desktop.env)
    daemons.append(d)
    assert d.cli("settings", "set", "language", "de").returncode == 0
    ids = [fire(server, email) for _ in range(3)]
    state = StateDB(d.folder / "state.db")  # this daemon saw the first event long ago…
    state.receive(ids[0], {"symbol": "EURUSD", "message": "old"})
    state.mark(ids[0], DELIVERED)
    state.close()
    with server.app.state.sessions() as s:  # …and the server's retention purged the next one
        s.execute(delete(Event).where(Event.id.in_(ids[:2])))
        s.commit()
    d.start("--notifier", "desktop")
    d.wait_deliveries(1)
    wait_until(lambda: f"delivered event {ids[2]}" in d.log_text(), 15, "the alert shown")
    shown = [(n["summary"], n["body"]) for n in desktop.history()]
    assert shown[0][0] == summary, shown
    assert shown[1] == ("EURUSD H1", "EURUSD H1 crossed up 1.09 at 1.0912"), shown
