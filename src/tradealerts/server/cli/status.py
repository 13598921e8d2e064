"""Is the service well: ``status`` (the engine, API processes and bus scaled out; the local
server's health on the embedded default), ``admin incidents`` (the owner's alerts, issue
#29) and ``admin quarantine`` (mails and deliveries set aside, and their release)."""

from __future__ import annotations

import json
from typing import Any

import typer

from tradealerts.core import admin_figures as figures
from tradealerts.server.cli.common import JSON_OPTION, Db, fail, load_settings, print_json, table
from tradealerts.server.cli.remote import Access, with_login

__all__ = ["admin_incidents", "admin_quarantine", "status"]


def status(
    redis_url: str = typer.Option(None, help="The deployment's Redis."),
    database_url: str = typer.Option(None, help="The deployment's database."),
    server: str = typer.Option(
        None, help="Embedded: the server to ask (default: this machine's --host/--port)."
    ),
    host: str = typer.Option(
        None, help="Embedded: the address `serve` listens on [TRADEALERTS_HOST]."
    ),
    port: int = typer.Option(
        None, help="Embedded: the port `serve` listens on [TRADEALERTS_PORT]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Engine (leader, standbys, lag), API processes, open streams and bus length; on the
    embedded default (no TRADEALERTS_REDIS_URL), the local server's health."""
    import asyncio

    settings = load_settings(redis_url=redis_url, database_url=database_url, host=host, port=port)
    if not settings.redis_url:
        _embedded_status(server or _local_url(settings), as_json)
        return
    from tradealerts.server.scale.status import collect, render

    try:
        data = asyncio.run(collect(settings))
    except Exception as exc:
        raise fail(f"status: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        render(data)


def _local_url(settings: Any) -> str:
    # a server listening on every interface answers on loopback
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def _embedded_status(url: str, as_json: bool) -> None:
    """The one-process server's own health (GET /api/system/health, no token needed); exit 1
    when it is degraded or does not answer, so a monitor can run this command."""
    import httpx

    try:
        r = httpx.get(f"{url.rstrip('/')}/api/system/health", timeout=10)
        data = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise fail(
            f"no tradealerts server answers at {url} ({type(exc).__name__}): start it with "
            "'tradealerts-server serve', or pass --server URL; scaled out, set "
            "TRADEALERTS_REDIS_URL"
        ) from None
    if not isinstance(data, dict) or "status" not in data:
        raise fail(f"{url} is not a tradealerts server (GET /api/system/health: {r.status_code})")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(_render_health(url, data))
    if data["status"] != "ok":
        raise typer.Exit(1)


def _render_health(url: str, data: dict[str, Any]) -> str:
    """Health as a few lines: each part's status and the detail that explains a fault."""
    lines = [f"server {url}: {data['status']} (embedded: one process)"]
    for part in ("database", "feed", "engine", "alerts", "mail", "lines"):
        value = data.get(part)
        if not isinstance(value, dict):
            continue
        detail = []
        if part == "database" and "latency_ms" in value:
            detail.append(f"{value['latency_ms']} ms")
        if part == "feed":
            symbols = value.get("symbols") or {}
            stale = sorted(k for k, v in symbols.items() if v.get("status") not in ("ok", "closed"))
            # a quiet market closed by its schedule is neither fresh nor stale (issue #29)
            closed = sorted(k for k, v in symbols.items() if v.get("status") == "closed")
            fresh = len(symbols) - len(stale) - len(closed)
            detail.append(str(value.get("name", "")))
            detail.append(f"{fresh}/{len(symbols)} symbols fresh")
            if closed:
                detail.append("market closed: " + ", ".join(closed))
            if stale:
                detail.append("stale: " + ", ".join(stale))
        for key in ("error", "reason", "retry_in_seconds", "waiting", "quarantined", "leader",
                    "epoch"):  # fmt: skip
            if value.get(key) not in (None, ""):
                detail.append(f"{key} {value[key]}")
        lines.append(
            f"  {part:<9}{value.get('status', '?'):<10}{' · '.join(d for d in detail if d)}"
        )
    return "\n".join(lines)


_DAYS = typer.Option(
    None, "--days", min=0, max=3650, help="Closed ones within this many days (default 7)."
)


@with_login
def admin_incidents(
    days: int | None = _DAYS, *, login: Access, as_json: bool = JSON_OPTION
) -> None:
    """Owner alerts: open incidents, then recent ones (opened, reminders, recovered)."""

    def local(s: Any, now: Any, settings: Any) -> dict[str, Any]:
        from tradealerts.server.incidents.monitor import incident_rows

        recent = settings.incident_recent_days if days is None else days
        rows = incident_rows(s, now, recent)
        open_ = sum(1 for r in rows if r["status"] == "open")
        return {"open": open_, "recent_days": recent, "incidents": rows}

    params = {} if days is None else {"days": days}
    data = login.get("/api/admin/incidents", local, params)
    if as_json:
        print_json(data)
        return
    shown = figures.incident_table(data)
    table(shown.title, shown.columns, shown.rows)
    if not data["incidents"]:
        typer.echo("no incidents: every check passes")


_RELEASE = typer.Option(
    None,
    "--release",
    help="Put this item back for a fresh round of tries (repeatable): mail-17, "
    "delivery-42 (a bare number is a mail), or 'all'.",
)


def admin_quarantine(
    release: list[str] = _RELEASE,
    limit: int = typer.Option(100, min=1, max=1000, help="How many to list."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Mails and alert deliveries (webhooks…) set aside because no try could send them, with
    the reason, and --release to try them again once the cause is fixed. Runs on the
    server's host (its database)."""
    from tradealerts.server import quarantine

    try:
        ids = quarantine.parse_ids(release) if release else None
    except ValueError as exc:
        why = f"--release takes mail-ID, delivery-ID, a mail id or 'all', not {exc}"
        raise fail(why, 2) from None
    with Db(load_settings()) as (s, now):
        if release:
            done = quarantine.release(s, ids, now)
            s.commit()
            if as_json:
                print_json({"released": done})
            else:
                typer.echo(
                    f"released {len(done)} item(s): {', '.join(done) or '-'}; the running "
                    "server's workers try them again on their next pass (within 5 s)"
                )
            return
        held = quarantine.listing(s, limit)
    if as_json:
        print_json({"quarantined": held})
        return
    table(
        "quarantined mails and deliveries",
        ["id", "time", "to", "what", "reason"],
        [[i["id"], str(i["time"])[:19], i["to"], i["what"][:40], i["reason"]] for i in held],
    )
