"""A straightforward pure-Python implementation of the indicator spec: the speed baseline.

Written for clarity the way one would at first (nested loops, no numpy); the benchmark checks
that it agrees with the real implementation before timing either.
"""

from __future__ import annotations

import itertools


def fractals(high: list[float], low: list[float], n: int = 2) -> tuple[list[int], list[int]]:
    up, down = [], []
    for i in range(n, len(high) - n):
        if all(high[i] >= high[i - k] and high[i] > high[i + k] for k in range(1, n + 1)):
            up.append(i)
        if all(low[i] <= low[i - k] and low[i] < low[i + k] for k in range(1, n + 1)):
            down.append(i)
    return up, down


def _first_break(close: list[float], start: int, level, above: bool) -> int | None:
    for j in range(start, len(close)):
        v = level(j)
        if (close[j] > v) if above else (close[j] < v):
            return j
    return None


def horizontal(high, low, close, n=2):
    up, down = fractals(high, low, n)
    out = []
    for i in up:
        out.append(
            ("resistance", high[i], i, _first_break(close, i + 1, lambda j, p=high[i]: p, True))
        )
    for i in down:
        out.append(("support", low[i], i, _first_break(close, i + 1, lambda j, p=low[i]: p, False)))
    return out


def diagonal(high, low, close, n=2):
    up, down = fractals(high, low, n)
    out = []
    for marks, series, above in ((up, high, True), (down, low, False)):
        for a, b in itertools.pairwise(marks):
            pa, pb = series[a], series[b]
            if (pb < pa) if above else (pb > pa):

                def value(j, a=a, b=b, pa=pa, pb=pb):
                    return pa + (pb - pa) * float(j - a) / float(b - a)

                out.append((a, b, _first_break(close, b + 1, value, above)))
    return out
