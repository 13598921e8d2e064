"""Money as people read it: ``core.money``, the one formatter both sides print with."""

from __future__ import annotations

from tradealerts.core.money import amounts, money

__all__ = ["amounts", "money"]
