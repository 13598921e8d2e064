"""Display facts about the product's symbols: how many decimals a price has."""

from __future__ import annotations

__all__ = ["PRICE_DIGITS", "format_price"]

#: Decimals of a quoted price, as the usual MT5 brokers quote them.
PRICE_DIGITS: dict[str, int] = {
    "AUDJPY": 3, "AUDUSD": 5, "BTCUSD": 2, "ETHUSD": 2, "EURUSD": 5, "GBPJPY": 3,
    "GBPUSD": 5, "NDX100": 1, "NZDUSD": 5, "US30": 1, "USDCAD": 5, "USDCHF": 5,
    "USDJPY": 3, "XAGUSD": 3, "XAUUSD": 2,
}  # fmt: skip


def format_price(symbol: str, price: float) -> str:
    """``price`` with the symbol's decimals and thousands separators (5 decimals if unknown)."""
    return f"{price:,.{PRICE_DIGITS.get(symbol, 5)}f}"
