"""Display facts about the product's symbols: how many decimals a price has."""

from __future__ import annotations

__all__ = ["PRICE_DIGITS", "TYPICAL_SPREAD", "format_distance", "format_price"]

#: Decimals of a quoted price, as the usual MT5 brokers quote them.
PRICE_DIGITS: dict[str, int] = {
    "AUDJPY": 3, "AUDUSD": 5, "BTCUSD": 2, "ETHUSD": 2, "EURUSD": 5, "GBPJPY": 3,
    "GBPUSD": 5, "NDX100": 1, "NZDUSD": 5, "US30": 1, "USDCAD": 5, "USDCHF": 5,
    "USDJPY": 3, "XAGUSD": 3, "XAUUSD": 2,
}  # fmt: skip

#: A typical broker spread in price units, for feeds that have no quotes of their own.
TYPICAL_SPREAD: dict[str, float] = {
    "AUDJPY": 0.015, "AUDUSD": 0.00012, "BTCUSD": 15.0, "ETHUSD": 1.5, "EURUSD": 0.00008,
    "GBPJPY": 0.02, "GBPUSD": 0.0001, "NDX100": 1.5, "NZDUSD": 0.00015, "US30": 2.0,
    "USDCAD": 0.00012, "USDCHF": 0.0001, "USDJPY": 0.012, "XAGUSD": 0.02, "XAUUSD": 0.25,
}  # fmt: skip


def format_price(symbol: str, price: float) -> str:
    """``price`` with the symbol's decimals and thousands separators (5 decimals if unknown)."""
    return f"{price:,.{PRICE_DIGITS.get(symbol, 5)}f}"


#: Currencies of the forex pairs, whose distances traders count in pips.
_CURRENCIES = frozenset({"AUD", "CAD", "CHF", "EUR", "GBP", "JPY", "NZD", "USD"})


def format_distance(symbol: str, delta: float) -> str:
    """A price distance as traders count it: pips on a forex pair (the 4th decimal, the 2nd
    on a JPY pair: ten of the broker's points), points (whole price units) on metals,
    indices and crypto. Signed: ``+12.3 pips`` is above the price."""
    forex = len(symbol) == 6 and symbol[:3] in _CURRENCIES and symbol[3:] in _CURRENCIES
    if forex:
        pip = 10.0 ** -(PRICE_DIGITS.get(symbol, 5) - 1)
        return f"{delta / pip:+,.1f} pips"
    return f"{delta:+,.{min(2, PRICE_DIGITS.get(symbol, 2))}f} pts"
