"""The line the CLI prints about the owner's maintenance notice (issue #29).

Every answer of the server carries ``X-TradeAlerts-Notice: <ids>`` while a notice is
current, so a command learns of one from what it asked anyway: no request of its own on
every command. Only when an id is new to this machine (``notices-seen.json`` in the client's
folder) does it ask ``GET /api/notices`` once and print one line per new notice, on stderr
(``--json`` output stays clean), after the command's own output.
"""

from __future__ import annotations

import sys

__all__ = ["SEEN_FILE", "show_pending"]

SEEN_FILE = "notices-seen.json"


def show_pending() -> None:
    """Say each current notice this machine has not shown yet, once; never fails."""
    from tradealerts.cli.context import STATE

    ids: frozenset[int] = frozenset()
    for client in STATE.clients:
        ids |= client.session.notice_ids
    if not ids:
        return
    try:
        _show(ids, STATE.clients[-1].base_url, STATE.utc)
    except Exception:  # a notice must never turn a command's success into a failure
        return


def _show(ids: frozenset[int], server: str, utc: bool) -> None:
    from datetime import UTC

    from tradealerts.client import Client, endpoints
    from tradealerts.client.lang import _
    from tradealerts.client.notices import SeenNotices, describe
    from tradealerts.client.paths import home

    seen = SeenNotices(home() / SEEN_FILE, server)
    new = seen.unseen(ids)
    if not new:
        return
    with Client(server) as c:
        current = c.run(endpoints.notices()).get("notices", [])
    shown: set[int] = set()
    for data in current:
        if isinstance(data, dict) and data.get("id") in new:
            title, body = describe(data, UTC if utc else None)
            line = _("Notice: {title}: {body}").format(title=title, body=body)
            sys.stderr.write(line + "\n")
            shown.add(int(data["id"]))
    seen.remember(shown, ids)
