"""``ingest-token create|list|revoke`` and ``lines compare``: the owner's own MT5 indicator
(issue #16): the tokens its bridge EA posts with, and its lines against the computed ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import typer

from tradealerts.server.cli.common import JSON_OPTION, Db, fail, load_settings, table, width

__all__ = ["ingest_token_create", "ingest_token_list", "ingest_token_revoke", "lines_compare"]


def ingest_token_create(
    name: str = typer.Option("mt5-bridge", help="A name to tell tokens apart."),
) -> None:
    """Make a token for the bridge EA's InpToken input; it is shown once, only its hash is
    stored."""
    from tradealerts.server.ingest.tokens import create_ingest_token

    with Db(load_settings()) as (s, now):
        token = create_ingest_token(s, name, now)
        s.commit()
    typer.echo(token)
    typer.echo(
        "Shown once: paste it into the EA's InpToken input (POST /api/ingest/indicators).",
        err=True,
    )


def ingest_token_list(
    as_json: bool = JSON_OPTION,
) -> None:
    """The bridge tokens: key id, name, when made and last used (secrets are never stored)."""
    from tradealerts.server.ingest.tokens import list_ingest_tokens

    def when(t: Any) -> str | None:
        return None if t is None else str(t.isoformat()).replace("+00:00", "Z")

    with Db(load_settings()) as (s, _now):
        rows = [
            {"key_id": t.key_id, "name": t.name, "created_at": when(t.created_at),
             "last_used_at": when(t.last_used_at)}
            for t in list_ingest_tokens(s)
        ]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No ingest tokens: make one with 'tradealerts-server ingest-token create'.")
        return
    table(
        "Ingest tokens",
        ["key id", "name", "created", "last used"],
        [[r["key_id"], r["name"], (r["created_at"] or "")[:19],
          (r["last_used_at"] or "never")[:19]] for r in rows],
    )  # fmt: skip


def ingest_token_revoke(
    key_id: str = typer.Argument(..., help="The key id from 'ingest-token list' (or the token)."),
) -> None:
    """Delete a bridge token: the next post with it is refused (401 invalid_ingest_token)."""
    from tradealerts.server.ingest.tokens import revoke_ingest_token

    with Db(load_settings()) as (s, _now):
        row = revoke_ingest_token(s, key_id.strip())
        if row is None:
            raise fail(f"no ingest token with key id {key_id!r}: see 'ingest-token list'")
        name = row.name
        s.commit()
    typer.echo(f"Revoked ingest token {name!r}.")


def _feed_bars(settings: Any, symbol: str, tf: Any) -> Any:
    import asyncio

    from tradealerts.server.app import feed_options
    from tradealerts.server.feeds import FeedError, create_feed

    async def load() -> Any:
        feed = create_feed(settings.feed, feed_options(settings))
        await feed.start()
        try:
            return await feed.bars(symbol, tf, settings.history_for_feed())
        finally:
            await feed.close()

    try:
        return asyncio.run(load())
    except (FeedError, LookupError, ValueError) as exc:
        raise fail(f"feed {settings.feed}: {exc}") from None


def _compared(result: dict[str, Any], settings: Any) -> str:
    """One line saying which bars were compared, and from which settings."""
    c = result["compared"]

    def day(t: int | None) -> str:
        return "—" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")

    return (
        f"Compared {c['count']} bars of {result['symbol']} {result['timeframe']}: "
        f"{day(c['first'])} … {day(c['last'])} UTC (the last {c['count']} of {c['feed_bars']} "
        f"loaded from feed {settings.feed} with history {settings.history_for_feed()} bars); "
        f"the bridge sent {c['owner_bars']} of them."
    )


def lines_compare(
    symbol: str = typer.Argument(..., help="e.g. EURUSD"),
    timeframe: str = typer.Argument(..., help="e.g. H1"),
    bars: int = typer.Option(300, min=1, max=5000, help="The window, as /api/indicators?bars=N."),
    feed: str = typer.Option(
        None, help="As serve: synthetic, replay:PATH, mt5, mt5-rpyc://… [TRADEALERTS_FEED]."
    ),
    history_bars: int = typer.Option(
        None, min=1, help="As serve: bars of history to load [TRADEALERTS_HISTORY_BARS]."
    ),
    buffer_map: str = typer.Option(
        None, help="As serve: the buffer map, JSON or a JSON file [TRADEALERTS_BUFFER_MAP]."
    ),
    replay_symbol: str = typer.Option(
        None, help="As serve --symbol: a replay file's symbol [TRADEALERTS_REPLAY_SYMBOL]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The owner's lines (from the bridge's buffers and the buffer map) against the computed
    spec: lines missing, extra or moved. Give it the settings `serve` has (flags or the same
    TRADEALERTS_* variables): it says which bars it compared."""
    from rich.console import Console
    from rich.table import Table

    from tradealerts.core.tiers import UnknownSymbol, normalize_symbol
    from tradealerts.core.timeframes import TimeframeError, parse_timeframe
    from tradealerts.server.ingest.store import load_values
    from tradealerts.server.lines_compare import compare_lines

    try:
        sym, tf = normalize_symbol(symbol), parse_timeframe(timeframe)
    except (UnknownSymbol, TimeframeError) as exc:
        raise fail(str(exc), 2) from None
    settings = load_settings(
        feed=feed, history_bars=history_bars, buffer_map=buffer_map, replay_symbol=replay_symbol
    )
    with Db(settings) as (s, _now):
        stored = load_values(s, lambda a, b: (a, b) == (sym, tf.value))
    values = stored.get((sym, tf.value), {})
    if not values:
        raise fail(f"the bridge has sent nothing for {sym} {tf.value} yet")
    feed_bars = _feed_bars(settings, sym, tf)
    result = compare_lines(sym, tf, feed_bars, values, settings.buffer_map, bars)
    if result["owner_bars"] == 0:
        # every line would read "missing": the usual cause is a compare run without the
        # feed that `serve --feed` was given (this command reads TRADEALERTS_FEED or --feed)
        def span(times: Any) -> str:
            def day(t: Any) -> str:
                return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%d %H:%M")

            return f"{day(min(times))} … {day(max(times))}" if len(times) else "no bars"

        raise fail(
            f"none of the bridge's {len(values)} {sym} {tf.value} bars ({span(list(values))})"
            f" is a bar of feed {settings.feed} ({span(feed_bars.time.tolist())}): compare"
            " on the feed the server serves (--feed or TRADEALERTS_FEED)"
        )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(_compared(result, settings))
    table = Table(title=f"{sym} {tf.value}: owner's lines vs computed (last {bars} bars)")
    for col in ("status", "line", "kind", "computed", "owner"):
        table.add_column(col, no_wrap=True)

    def value(k: str, v: Any) -> str:
        if v is None:
            return "—"
        if k in ("t1", "t2", "broken_time"):  # epoch seconds, as the API gives them
            return datetime.fromtimestamp(v, UTC).strftime("%Y-%m-%d %H:%M")
        return str(v)

    def shape(d: dict[str, Any] | None) -> str:
        if d is None:
            return "—"
        return "\n".join(f"{k.replace('_time', '')} {value(k, v)}" for k, v in d.items())

    for d in result["differences"]:
        table.add_row(d["status"], d["id"], d["kind"], shape(d["computed"]), shape(d["owner"]))
    console = Console(width=width(160))
    console.print(table)
    summary, lines = result["summary"], result["lines"]
    console.print(
        f"missing {summary['missing']} · extra {summary['extra']} · moved {summary['moved']}"
        f" · computed {sum(lines['computed'].values())} lines, owner's "
        f"{sum(lines['owner'].values())}"
    )
