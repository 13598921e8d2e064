"""The two subscription tiers: the one place their numbers live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tradealerts.core.messages import N_, _
from tradealerts.core.timeframes import Timeframe, parse_timeframe

__all__ = [
    "ALL_SYMBOLS",
    "TIERS",
    "AccessDenied",
    "Tier",
    "TierLimits",
    "UnknownSymbol",
    "check_pair",
    "check_symbol",
    "check_timeframe",
    "limits_for",
    "normalize_symbol",
    "required_tier",
]


class Tier(StrEnum):
    """A subscription tier, ordered from the cheapest."""

    FREE = "FREE"
    PRO = "PRO"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class TierLimits:
    """Everything a tier allows."""

    tier: Tier
    symbols: frozenset[str]
    timeframes: frozenset[Timeframe]
    watchlist_items: int
    active_alerts: int
    requests_per_hour: int
    price_usd_per_month: int


FREE_SYMBOLS = frozenset({"BTCUSD", "EURUSD", "USDJPY", "US30", "XAUUSD"})
PRO_SYMBOLS = frozenset(
    {
        "AUDJPY", "AUDUSD", "BTCUSD", "ETHUSD", "EURUSD", "GBPJPY", "GBPUSD", "NDX100",
        "NZDUSD", "US30", "USDCAD", "USDCHF", "USDJPY", "XAGUSD", "XAUUSD",
    }
)  # fmt: skip

TIERS: dict[Tier, TierLimits] = {
    Tier.FREE: TierLimits(
        tier=Tier.FREE,
        symbols=FREE_SYMBOLS,
        timeframes=frozenset({Timeframe.H1, Timeframe.H4, Timeframe.D1}),
        watchlist_items=5,
        active_alerts=5,
        requests_per_hour=60,
        price_usd_per_month=0,
    ),
    Tier.PRO: TierLimits(
        tier=Tier.PRO,
        symbols=PRO_SYMBOLS,
        timeframes=frozenset(Timeframe),
        watchlist_items=50,
        active_alerts=20,
        requests_per_hour=300,
        price_usd_per_month=29,
    ),
}

#: Every symbol the product serves, sorted.
ALL_SYMBOLS: tuple[str, ...] = tuple(sorted(FREE_SYMBOLS | PRO_SYMBOLS))


class AccessDenied(Exception):
    """The caller's tier does not allow the request; ``required`` names the tier that would."""

    def __init__(self, message: str, required: Tier | None) -> None:
        super().__init__(message)
        self.message = message
        self.required = required


class UnknownSymbol(ValueError):
    """A symbol the product does not serve at all."""


def limits_for(tier: Tier | str) -> TierLimits:
    """The limits of a tier given as a Tier or its name."""
    return TIERS[Tier(tier)]


def normalize_symbol(symbol: str) -> str:
    """Upper-case a symbol and check that some tier serves it."""
    key = symbol.strip().upper()
    if key not in TIERS[Tier.PRO].symbols and key not in TIERS[Tier.FREE].symbols:
        raise UnknownSymbol(
            _(
                "Unknown symbol {symbol!r}: use one of {allowed}.",
                symbol=symbol,
                allowed=", ".join(ALL_SYMBOLS),
            )
        )
    return key


def required_tier(symbol: str, timeframe: Timeframe | str) -> Tier | None:
    """The smallest tier that allows the (symbol, timeframe) pair, or None if none does."""
    sym = symbol.strip().upper()
    tf = parse_timeframe(timeframe)
    for tier in Tier:
        lim = TIERS[tier]
        if sym in lim.symbols and tf in lim.timeframes:
            return tier
    return None


def _gate(
    tier: Tier | str, allows: Callable[[TierLimits], bool], msgid: str, **params: object
) -> None:
    """Raise AccessDenied unless ``tier`` ``allows`` it: the reason is ``msgid`` (marked
    with N_ where it is written) with ``params``, ``{current}`` and ``{need}``, the smallest
    tier that allows it."""
    current = Tier(tier)
    if allows(TIERS[current]):
        return
    need = next((t for t in Tier if allows(TIERS[t])), None)
    raise AccessDenied(_(msgid, current=current, need=need, **params), required=need)


def check_symbol(tier: Tier | str, symbol: str) -> str:
    """Return the normalised symbol, or raise AccessDenied naming the tier that allows it."""
    sym = normalize_symbol(symbol)
    why = N_("{sym} is not included in the {current} plan; it needs {need}.")
    _gate(tier, lambda lim: sym in lim.symbols, why, sym=sym)
    return sym


def check_timeframe(tier: Tier | str, timeframe: Timeframe | str) -> Timeframe:
    """Return the parsed timeframe, or raise AccessDenied naming the tier that allows it."""
    tf = parse_timeframe(timeframe)
    why = N_("The {tf} timeframe is not included in the {current} plan; it needs {need}.")
    _gate(tier, lambda lim: tf in lim.timeframes, why, tf=tf)
    return tf


def check_pair(tier: Tier | str, symbol: str, timeframe: Timeframe | str) -> tuple[str, Timeframe]:
    """Check both halves of a (symbol, timeframe) pair; a refusal names the smallest tier
    that allows the whole pair."""
    sym = normalize_symbol(symbol)
    tf = parse_timeframe(timeframe)
    current = Tier(tier)
    lim = TIERS[current]
    if sym in lim.symbols and tf in lim.timeframes:
        return sym, tf
    need = required_tier(sym, tf)
    # whole phrases (core.messages): a translation needs them, not their pieces
    what: str
    if sym not in lim.symbols and tf not in lim.timeframes:
        what = _("{sym} and the {tf} timeframe", sym=sym, tf=tf)
    elif sym not in lim.symbols:
        what = sym
    else:
        what = _("the {tf} timeframe", tf=tf)
    hint = _("it needs {need}", need=need) if need else _("no plan includes this pair")
    raise AccessDenied(
        _(
            "{sym} {tf} is not included in the {current} plan ({what}); {hint}.",
            sym=sym,
            tf=tf,
            current=current,
            what=what,
            hint=hint,
        ),
        required=need,
    )
