"""``tradealerts-server admin incidents``: the owner's open and recent incidents (issue #29).

On the server's host it reads the database; with ``--server`` it asks
``GET /api/admin/incidents`` as the other admin commands do."""

from __future__ import annotations

from typing import Any

import typer

from tradealerts.server.cli import (
    EmailOpt,
    JsonOpt,
    PwStdinOpt,
    ServerOpt,
    _backend,
    _db,
    _print_json,
    _settings,
    _table,
    admin_app,
)

__all__ = ["admin_incidents"]

_DAYS = typer.Option(
    None, "--days", min=0, max=3650, help="Closed ones within this many days (default 7)."
)


@admin_app.command("incidents")
def admin_incidents(
    days: int | None = _DAYS,
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Owner alerts: open incidents, then recent ones (opened, reminders, recovered)."""
    remote = _backend(server, email, password_stdin)
    if remote is not None:
        params = {} if days is None else {"days": days}
        data: dict[str, Any] = remote.call("GET", "/api/admin/incidents", params=params)
    else:
        from tradealerts.server.incidents.monitor import incident_rows

        settings = _settings()
        recent = settings.incident_recent_days if days is None else days
        with _db(settings) as (s, now):
            rows = incident_rows(s, now, recent)
        data = {
            "open": sum(1 for r in rows if r["status"] == "open"),
            "recent_days": recent,
            "incidents": rows,
        }
    if as_json:
        _print_json(data)
        return
    rows = data["incidents"]
    _table(
        f"incidents: {data['open']} open, closed within {data['recent_days']} days",
        ["id", "status", "kind", "title", "opened", "reminders", "closed", "detail"],
        [
            [
                r["id"],
                r["status"],
                r["kind"],
                r["title"],
                (r["opened_at"] or "")[:19].replace("T", " "),
                r["reminders"],
                (r["closed_at"] or "")[:19].replace("T", " "),
                r["recovery"] or r["detail"],
            ]
            for r in rows
        ],
    )
    if not rows:
        typer.echo("no incidents: every check passes")
