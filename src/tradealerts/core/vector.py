"""Rules written once for one value and for a numpy array of them alike.

The live matcher asks a rule about one tick; a backtest asks it about every tick of a
window at once. Written with comparisons, ``&``/``|`` and ``choose``, a rule answers both
(a bool for floats, a bool array for arrays), so there is one implementation of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["choose"]


def choose(cond: Any, x: Any, y: Any) -> Any:
    """``x`` where ``cond`` holds, else ``y``: ``np.where`` for an array, ``x if cond else
    y`` for one value (without numpy's cost on the live path)."""
    if isinstance(cond, np.ndarray):
        return np.where(cond, x, y)
    return x if cond else y
