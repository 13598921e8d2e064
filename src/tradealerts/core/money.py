"""Money as people read it, from the integer minor units the server sends (never floats).

In core because both sides print it: the `tradealerts` command and its TUI, and the
owner's `tradealerts-server admin revenue` (through `core.admin_figures`)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["amounts", "money"]

#: ISO currencies Stripe counts in whole units (no cents)
_ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg",
                           "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"})  # fmt: skip


def money(amount: int, currency: str) -> str:
    """Integer minor units as people read them: ``29.00 USD`` (``-5.00 USD``, ``500 JPY``)."""
    cur = currency.lower()
    sign, n = ("-" if amount < 0 else ""), abs(amount)
    if cur in _ZERO_DECIMAL:
        return f"{sign}{n} {cur.upper()}"
    return f"{sign}{n // 100}.{n % 100:02d} {cur.upper()}"


def amounts(by_currency: Mapping[str, int]) -> str:
    """Several currencies' amounts on one line (``0`` when there are none)."""
    if not by_currency:
        return "0"
    return ", ".join(money(v, c) for c, v in sorted(by_currency.items()))
