"""The MT5 bridge's wire format and the owner's buffer map: the one schema of issue #16.

``POST /api/ingest/indicators`` takes one ``IngestBatch``: the values of some of the owner's
indicator buffers on some closed bars of one (symbol, timeframe). The Expert Advisor
(``tradealerts/mql5/TradeAlertsBridge.mq5``) writes exactly this, the endpoint reads it with
this model, the docs show ``INGEST_EXAMPLE`` (a test holds all three to it)::

    {"symbol": "EURUSD", "timeframe": "H1", "indicator": "Fractals",
     "buffers": [0, 1],
     "bars": [{"time": 1732406400, "values": [1.05412, 1.7976931348623157e308]}, ...]}

``buffers`` names the buffer index (MQL5 ``CopyBuffer``'s ``buffer_num``) of each column of
``values``; a value of ``EMPTY_VALUE`` (or ``null``) means "nothing on this bar". Times are
bar open times, epoch seconds UTC. The ``BufferMap`` says what each buffer means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradealerts.core.tiers import normalize_symbol
from tradealerts.core.timeframes import parse_timeframe

__all__ = [
    "EMPTY_VALUE",
    "INGEST_EXAMPLE",
    "MAX_BARS",
    "MAX_BODY_BYTES",
    "MAX_BUFFERS",
    "BufferMap",
    "IngestBar",
    "IngestBatch",
    "IngestResult",
    "LinesSource",
    "ingest_json_schema",
    "is_empty",
]

#: MQL5's ``EMPTY_VALUE`` (``DBL_MAX``): what an indicator buffer holds where it draws nothing.
EMPTY_VALUE = 1.7976931348623157e308
#: Bars one request may carry (the EA's history batch is split to fit).
MAX_BARS = 5000
#: Buffers one request may carry.
MAX_BUFFERS = 32
#: The largest body the endpoint reads (5,000 bars x 8 buffers of EMPTY_VALUE fit).
MAX_BODY_BYTES = 2 * 1024 * 1024


def is_empty(value: float | None, empty: float = EMPTY_VALUE) -> bool:
    """True for "nothing on this bar": ``None``, ``EMPTY_VALUE`` or the map's own empty."""
    return value is None or value in (EMPTY_VALUE, empty)


class IngestBar(BaseModel):
    """One closed bar: its open time and one value per buffer named in ``buffers``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # strict: the EA writes JSON numbers; a bool or a numeric string is a wrong type, not a price
    time: int = Field(ge=0, strict=True, description="bar open time, epoch seconds UTC")
    values: list[Annotated[float, Field(strict=True)] | None] = Field(
        max_length=MAX_BUFFERS, description="one per buffer; EMPTY_VALUE or null: none"
    )


class IngestBatch(BaseModel):
    """What the bridge posts: closed bars of one (symbol, timeframe), oldest first."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    symbol: str = Field(min_length=1, max_length=32, description="as the terminal names it")
    timeframe: str = Field(min_length=2, max_length=4, description="M5 … D1")
    indicator: str = Field(
        default="", max_length=128, description="the indicator's name (for logs)"
    )
    buffers: list[Annotated[int, Field(strict=True)]] = Field(
        min_length=1, max_length=MAX_BUFFERS, description="buffer index of each value column"
    )
    bars: list[IngestBar] = Field(min_length=1, max_length=MAX_BARS)

    @model_validator(mode="after")
    def _columns(self) -> IngestBatch:
        if len(set(self.buffers)) != len(self.buffers):
            raise ValueError("buffers lists an index twice")
        if any(b < 0 or b > 511 for b in self.buffers):
            raise ValueError("a buffer index is outside 0..511 (MQL5's limit)")
        return self


def ingest_json_schema() -> dict[str, Any]:
    """``IngestBatch``'s JSON schema with no references (what OpenAPI publishes for the
    request body: a ``#/$defs/…`` reference would point outside the OpenAPI document)."""
    schema = IngestBatch.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    out: dict[str, Any] = inline(schema)
    return out


class IngestResult(BaseModel):
    """The endpoint's answer: bars stored (new or changed) and bars that were already there
    with the same values (a retry, or the EA's look-back re-sending a bar)."""

    symbol: str
    timeframe: str
    stored: int
    unchanged: int


class BufferMap(BaseModel):
    """The owner's map from buffer index to meaning (one map for every series).

    Layouts (docs/owner-guide.md):

    * fractals: ``up_fractal`` / ``down_fractal`` buffers hold the fractal's price on its bar
      (else empty); the server draws our lines through them (a level at each fractal,
      trendlines through consecutive ones, broken by a close beyond).
    * levels: each of ``resistance_levels`` / ``support_levels`` holds the price of one line
      on every bar it is drawn; a run of equal values is one line, which ends (is broken)
      on the first bar with another value or none.
    * anchors: ``resistance_anchors`` / ``support_anchors`` hold a price on trendline anchor
      bars; consecutive anchors of a buffer make one trendline, broken by a close beyond.

    ``confirm_bars``: closed bars after a fractal or anchor bar before the indicator marks
    it (2 for Bill Williams fractals); the server uses a mark from then on, as the owner's
    chart shows it.
    """

    model_config = ConfigDict(extra="forbid")

    up_fractal: int | None = Field(default=0, ge=0, le=511)
    down_fractal: int | None = Field(default=1, ge=0, le=511)
    resistance_levels: list[int] = Field(default_factory=list, max_length=MAX_BUFFERS)
    support_levels: list[int] = Field(default_factory=list, max_length=MAX_BUFFERS)
    resistance_anchors: int | None = Field(default=None, ge=0, le=511)
    support_anchors: int | None = Field(default=None, ge=0, le=511)
    confirm_bars: int = Field(default=2, ge=1, le=50)
    #: a value meaning "none" besides EMPTY_VALUE and null (some indicators draw 0.0)
    empty_value: float = EMPTY_VALUE

    @model_validator(mode="after")
    def _distinct(self) -> BufferMap:
        used = self.buffers()
        if len(set(used)) != len(used):
            raise ValueError("the buffer map gives one buffer two meanings")
        if not used:
            raise ValueError("the buffer map names no buffer")
        if any(b < 0 or b > 511 for b in used):
            raise ValueError("a buffer index is outside 0..511 (MQL5's limit)")
        if not math.isfinite(self.empty_value):
            raise ValueError("empty_value must be a number")
        return self

    def buffers(self) -> list[int]:
        """Every buffer index the map uses."""
        single = (self.up_fractal, self.down_fractal, self.resistance_anchors, self.support_anchors)
        return [b for b in single if b is not None] + self.resistance_levels + self.support_levels

    @property
    def levels(self) -> bool:
        """Horizontal lines come from level buffers (else from the fractals)."""
        return bool(self.resistance_levels or self.support_levels)

    @property
    def anchors(self) -> bool:
        """Trendlines come from anchor buffers (else from the fractals)."""
        return self.resistance_anchors is not None or self.support_anchors is not None


#: The documented example (docs/api.md shows it verbatim; a test posts it).
INGEST_EXAMPLE: dict[str, Any] = {
    "symbol": "EURUSD",
    "timeframe": "H1",
    "indicator": "Fractals",
    "buffers": [0, 1],
    "bars": [
        {"time": 1731657600, "values": [EMPTY_VALUE, EMPTY_VALUE]},
        {"time": 1731661200, "values": [1.05912, EMPTY_VALUE]},
        {"time": 1731664800, "values": [EMPTY_VALUE, 1.05427]},
    ],
}


Source = Literal["computed", "mt5"]
_SOURCES = ("computed", "mt5")


@dataclass(frozen=True)
class LinesSource:
    """Where each series' lines come from: ``computed`` (our spec, from bars) or ``mt5`` (the
    owner's indicator buffers). Written ``computed``, ``mt5``, or a default followed by
    per-series choices: ``computed,EURUSD:H1=mt5,XAUUSD=mt5`` (a symbol alone: every
    timeframe of it)."""

    default: Source = "computed"
    overrides: dict[tuple[str, str | None], Source] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> LinesSource:
        """Parse the setting; ValueError names the part that is wrong."""
        default: Source = "computed"
        overrides: dict[tuple[str, str | None], Source] = {}
        for k, part in enumerate(p.strip() for p in spec.split(",")):
            key, eq, value = part.partition("=")
            choice = (value if eq else key).strip().lower()
            if choice not in _SOURCES:
                raise ValueError(
                    f"lines source {part!r}: use computed or mt5, optionally per series as "
                    "SYMBOL[:TIMEFRAME]=computed|mt5"
                )
            src: Source = "mt5" if choice == "mt5" else "computed"
            if not eq:
                if k:
                    raise ValueError(f"lines source {part!r}: the default comes first")
                default = src
                continue
            sym, _, tf = key.strip().partition(":")
            try:
                sym = normalize_symbol(sym)
                tf = parse_timeframe(tf).value if tf else ""
            except ValueError as exc:
                raise ValueError(f"lines source {part!r}: {exc}") from None
            overrides[(sym, tf or None)] = src
        return cls(default, overrides)

    def of(self, symbol: str, timeframe: str) -> Source:
        """The source of one series."""
        return self.overrides.get(
            (symbol, timeframe), self.overrides.get((symbol, None), self.default)
        )

    @property
    def uses_mt5(self) -> bool:
        """Some series takes the owner's lines."""
        return self.default == "mt5" or "mt5" in self.overrides.values()
