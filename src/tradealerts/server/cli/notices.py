"""``tradealerts-server admin announce``: maintenance notices (issue #29), straight into the
server's database; the running server (every process of it) picks them up within
``NOTICE_POLL_SECONDS``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from tradealerts.server.cli.common import JSON_OPTION, Db, fail, load_settings, print_json

__all__ = ["admin_announce"]


def _local(iso: str | None) -> str:
    if iso is None:
        return "-"
    return (
        datetime.fromisoformat(iso.replace("Z", "+00:00"))
        .astimezone()
        .strftime("%Y-%m-%d %H:%M %Z")
    )


def _line(n: dict[str, Any]) -> str:
    state = "cancelled" if n["cancelled"] else "announced"
    if n["at"] is None:
        when = "now, no window"
    else:
        minutes = (n["duration"] or 0) // 60
        when = f"{_local(n['at'])} for {minutes} min"
    return f"notice {n['id']} ({state}, {when}): {n['message']}"


def admin_announce(
    message: str = typer.Argument(None, help="What subscribers are told (one line)."),
    at: str = typer.Option(
        None,
        "--at",
        help="When maintenance starts: HH:MM (the next such time in this machine's zone, "
        "TZ) or ISO 8601 (2026-12-07T22:00Z; no offset = this machine's zone).",
    ),
    duration: str = typer.Option(
        None, "--duration", help="How long it lasts: 30m, 2h, 1h30m (without --at: from now)."
    ),
    list_: bool = typer.Option(False, "--list", help="The recent notices instead."),
    cancel_id: int = typer.Option(None, "--cancel", help="Withdraw notice ID instead."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Tell every subscriber: a notice in their notification centre, on their streams (TUI
    banner, one desktop notification, a line on the CLI's next command); a shutdown inside
    --at/--duration tells clients to come back when the window ends."""
    from tradealerts.server import notices

    chosen = sum((bool(message), list_, cancel_id is not None))
    if chosen != 1:
        raise fail("give a MESSAGE, or --list, or --cancel ID (one of them)", 2)
    with Db(load_settings()) as (s, now):
        try:
            if list_:
                rows = [notices.notice_json(n) for n in notices.recent(s)]
                if as_json:
                    print_json(rows)
                elif not rows:
                    typer.echo("No notices yet: announce one with 'admin announce \"…\"'.")
                for row in [] if as_json else rows:
                    typer.echo(_line(row))
                return
            if cancel_id is not None:
                n = notices.cancel(s, cancel_id, now)
            else:
                zone = now.astimezone().tzinfo  # the owner's zone: this machine's (TZ)
                span = notices.parse_duration(duration) if duration else None
                start = notices.parse_at(at, now, zone) if at else None
                n = notices.announce(s, message, now, starts_at=start, duration=span)
            s.commit()
            row = notices.notice_json(n)
        except notices.NoticeError as exc:
            raise fail(f"{exc.field}: {exc}", 2) from None
    if as_json:
        print_json(row)
    else:
        typer.echo(_line(row))
