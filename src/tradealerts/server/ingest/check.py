"""Every check of an ingest body, each fault with its own error code (nothing is stored
unless all pass). Pure: the route reads the body and the token, this judges the content."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tradealerts.core.ingest import BufferMap, IngestBatch, is_empty
from tradealerts.core.messages import _
from tradealerts.core.tiers import UnknownSymbol, normalize_symbol
from tradealerts.core.timeframes import (
    UTC_CLOCK,
    BarClock,
    Timeframe,
    TimeframeError,
    bar_span,
    grid_text,
    parse_timeframe,
)
from tradealerts.server.errors import ApiError, BadRequest, Invalid, sentence_of
from tradealerts.server.ingest.store import Row
from tradealerts.server.language import validation_text

__all__ = ["check_batch", "parse_body"]


class _NotANumber(ValueError):
    pass


def _constant(name: str) -> float:
    raise _NotANumber(name)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 overflows to inf
        raise _NotANumber(text)
    return value


def parse_body(raw: bytes) -> Any:
    """The body as JSON, refusing NaN and infinities (which Python's json would accept)."""
    try:
        return json.loads(raw, parse_constant=_constant, parse_float=_float)
    except _NotANumber as exc:
        raise Invalid(
            _(
                "The body holds {exc}, which is not a number: send EMPTY_VALUE "
                "(1.7976931348623157e308) or null for a bar without a value.",
                exc=exc,
            ),
            code="not_a_number",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            _("The body is not valid JSON: {exc}.", exc=exc), code="malformed_json"
        ) from None


def check_batch(
    data: Any,
    bmap: BufferMap,
    symbol_map: dict[str, str],
    now: float,
    clock: BarClock | None = UTC_CLOCK,
) -> tuple[str, Timeframe, dict[int, Row]]:
    """(symbol, timeframe, bar time -> buffer values with empties as None), or the refusal.

    ``symbol_map`` maps our symbol names to the terminal's (the feed's setting): the bridge
    may send either. ``now``: epoch seconds; a bar may not open in the future. ``clock``:
    where bars open (the configured bar clock, or the terminal's); None: the terminal's, not
    known in this process (an API process scaled out), so any whole-hour grid is accepted.
    """
    try:
        batch = IngestBatch.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise Invalid(
            _(
                "{where}: {problem} (see docs/api.md, POST /api/ingest/indicators).",
                where=where,
                problem=validation_text(err),
            ),
            code="invalid_payload",
        ) from None
    terminal = {v.upper(): k for k, v in symbol_map.items()}
    try:
        symbol = normalize_symbol(terminal.get(batch.symbol.strip().upper(), batch.symbol))
    except UnknownSymbol as exc:
        raise Invalid(sentence_of(exc), code="unknown_symbol") from None
    try:
        tf = parse_timeframe(batch.timeframe)
    except TimeframeError as exc:
        raise Invalid(sentence_of(exc), code="unknown_timeframe") from None
    missing = [b for b in bmap.buffers() if b not in batch.buffers]
    if missing:
        raise Invalid(
            _(
                "The buffer map uses buffer(s) {missing}, which this batch does not "
                "carry (it sends {buffers}): send them from the EA (its Buffers input) "
                "or fix the buffer map.",
                missing=", ".join(map(str, missing)),
                buffers=batch.buffers,
            ),
            code="missing_buffer",
        )
    width = len(batch.buffers)
    rows: dict[int, Row] = {}
    for bar in batch.bars:
        t = bar.time
        if len(bar.values) != width:
            raise Invalid(
                _(
                    "The bar at {t} has {count} values for {width} buffers.",
                    t=t,
                    count=len(bar.values),
                    width=width,
                ),
                code="buffer_count_mismatch",
            )
        if not _on_grid(tf, t, clock):
            raise Invalid(_off_grid(tf, t, clock), code="off_grid_time")
        if t > now:
            raise Invalid(
                _("The bar at {t} opens in the future: is the EA's UTC offset right?", t=t),
                code="future_bar_time",
            )
        if t in rows:
            raise Invalid(_("The bar at {t} is sent twice.", t=t), code="duplicate_bar_time")
        rows[t] = {
            b: None if is_empty(v) else v for b, v in zip(batch.buffers, bar.values, strict=True)
        }
    return symbol, tf, rows


def _on_grid(tf: Timeframe, t: int, clock: BarClock | None) -> bool:
    if clock is not None:
        return bar_span(tf, t, clock)[0] == t
    whole = tf.seconds if tf.seconds <= 3600 else 3600
    return t % whole == 0  # the terminal's clock is unknown here: any whole-hour grid


def _off_grid(tf: Timeframe, t: int, clock: BarClock | None) -> str:
    at = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if clock is None:
        return (
            f"{t} ({at}) is not the open time of a {tf.value} bar: bars open on whole hours "
            "(on the terminal's clock): send bar open times in UTC."
        )
    opened = datetime.fromtimestamp(bar_span(tf, t, clock)[0], UTC).strftime("%H:%M")
    return (
        f"{t} ({at}) is not the open time of a {tf.value} bar: {grid_text(tf, clock)} "
        f"(the bar holding it opened at {opened} UTC): send bar open times in UTC, on the "
        "server's bar clock (TRADEALERTS_BAR_CLOCK)."
    )


def too_large(limit: int) -> ApiError:
    """The refusal of a body over ``limit`` bytes."""
    return ApiError(
        _(
            "The body is larger than {limit} bytes: send fewer bars per request "
            "(the EA's InpHistoryBars; with many buffers fewer than the 5000-bar "
            "limit) or fewer buffers (InpBuffers).",
            limit=limit,
        ),
        code="body_too_large",
        status=413,
    )
