"""What ``tradealerts-server status`` shows: the lease, every process's heartbeat, the bus."""

from __future__ import annotations

import asyncio
from typing import Any

from tradealerts.server.scale.bus import CHANGES, EVENTS, MARKET, stream_key
from tradealerts.server.scale.procs import read_procs
from tradealerts.server.settings import Settings

__all__ = ["collect", "render"]


def _lease(settings: Settings) -> dict[str, Any] | None:
    from tradealerts.server.db.session import make_engine, make_sessionmaker
    from tradealerts.server.scale.lease import read_lease

    db = make_engine(settings.db_url)
    try:
        state = read_lease(make_sessionmaker(db))
    except Exception:  # not migrated yet: no engine ever ran
        return None
    finally:
        db.dispose()
    if state is None:
        return None
    return {"epoch": state.epoch, "holder": state.holder, "expires_in": round(state.expires_in, 1)}


async def collect(settings: Settings) -> dict[str, Any]:
    """Everything ``status`` prints, as a dict (``--json``)."""
    from tradealerts.server.scale.api import redis_client

    redis = redis_client(settings)
    try:
        procs = await read_procs(redis, settings.redis_prefix)
        bus = {}
        for name in (MARKET, EVENTS, CHANGES):
            bus[name] = int(await redis.xlen(stream_key(settings.redis_prefix, name)))
    finally:
        await redis.aclose()
    lease = await asyncio.to_thread(_lease, settings)
    for p in procs.values():
        # a leader of an older epoch is not leading, whatever its last heartbeat says: a
        # SIGKILLed one's record stays "alive" until it ages out, a paused one is fenced
        if lease and p.get("role") == "leader" and int(p.get("epoch") or 0) < lease["epoch"]:
            p["role"] = "deposed"
    leader_seq = next(
        (p.get("seq", 0) for p in procs.values() if p.get("role") == "leader" and p["alive"]), None
    )
    for p in procs.values():
        if p.get("role") == "api" and leader_seq is not None and p.get("epoch"):
            p["behind"] = max(0, int(leader_seq) - int(p.get("seq", 0)))
    return {
        "lease": lease,
        "processes": dict(sorted(procs.items(), key=lambda kv: (kv[1].get("role", ""), kv[0]))),
        "open_streams": sum(int(p.get("open_streams", 0)) for p in procs.values() if p["alive"]),
        "bus": bus,
    }


def render(data: dict[str, Any]) -> None:
    """Print ``collect``'s answer as tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    lease = data["lease"]
    if lease is None:
        console.print("engine lease: no engine has led yet")
    else:
        console.print(
            f"engine lease: epoch {lease['epoch']}, held by {lease['holder']}, "
            f"expires in {lease['expires_in']} s"
        )
    table = Table(title="processes")
    for col in ("role", "process", "state", "epoch", "seq", "lag s", "streams", "seen s ago"):
        table.add_column(col)
    for ident, p in data["processes"].items():
        role = p.get("role", "?") if p["alive"] else f"{p.get('role', '?')} (gone)"
        lag = p.get("lag_seconds", "")
        if "behind" in p:
            lag = f"{lag} ({p['behind']} behind)"
        table.add_row(
            role, ident, str(p.get("state", "")), str(p.get("epoch", "")),
            str(p.get("seq", "")), str(lag), str(p.get("open_streams", "")), str(p["age"]),
        )  # fmt: skip
    console.print(table)
    for p in data["processes"].values():
        lines = p.get("lines") if p["alive"] and p.get("role") == "leader" else None
        if not lines:
            continue
        # the owner's MT5 lines: per series, when the bridge last sent (as embedded health)
        owner = Table(title=f"the owner's lines ({lines.get('status', '?')})")
        for col in ("series", "source", "bridge last sent", "s ago", "bars"):
            owner.add_column(col)
        for name, ser in lines.get("series", {}).items():
            owner.add_row(
                name, str(ser.get("source")), str(ser.get("last_sent") or "never"),
                str(ser.get("seconds_since_sent") or ""), str(ser.get("bars") or ""),
            )  # fmt: skip
        console.print(owner)
    bus = data["bus"]
    console.print(
        f"open streams: {data['open_streams']} · bus length: "
        + ", ".join(f"{k} {v}" for k, v in bus.items())
    )
