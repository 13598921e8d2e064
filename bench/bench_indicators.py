"""Indicator benchmarks: batch over 100,000 bars (and the ratio to the pure-Python baseline),
and one incremental update on a 5,000-bar window. Prints figures against their targets and
exits 1 when one is missed."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import baseline_indicators as baseline
from benchkit import Targets, smoke
from tradealerts.core.indicators import (
    IndicatorState,
    diagonal_lines,
    find_fractals,
    horizontal_lines,
)

BARS = smoke(100_000, 10_000)


def series(size: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = 1.08 * np.exp(np.cumsum(rng.normal(0, 0.0015, size)))
    o = np.r_[c[0], c[:-1]]
    h = np.maximum(o, c) + np.abs(rng.normal(0, 0.0008, size))
    lo = np.minimum(o, c) - np.abs(rng.normal(0, 0.0008, size))
    return h, lo, c


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    targets = Targets()
    h, lo, c = series(BARS)

    def ours() -> None:  # what the server computes per series: fractals and both kinds of lines
        IndicatorState.from_arrays(h, lo, c)

    def as_lists() -> None:  # the same, each as a list of line objects (three fractal passes)
        find_fractals(h, lo)
        horizontal_lines(h, lo, c)
        diagonal_lines(h, lo, c)

    hl_, ll_, cl_ = h.tolist(), lo.tolist(), c.tolist()

    def pure() -> None:
        baseline.fractals(hl_, ll_)
        baseline.horizontal(hl_, ll_, cl_)
        baseline.diagonal(hl_, ll_, cl_)

    # same answers before comparing speed
    assert [x[3] for x in baseline.horizontal(hl_, ll_, cl_)] == [
        ln.broken for ln in sorted(horizontal_lines(h, lo, c), key=lambda x: x.kind != "resistance")
    ]
    state = IndicatorState.from_arrays(h, lo, c)
    assert list(state.horizontal) == horizontal_lines(h, lo, c)
    assert list(state.diagonal) == diagonal_lines(h, lo, c)
    ours_s = timed(ours, 7)
    lists_s = timed(as_lists, 7)
    pure_s = timed(pure, 1)
    print(
        f"indicators, {BARS:,} bars (fractals + horizontal + diagonal): {ours_s * 1e3:.1f} ms"
        "  " + targets.at_most(ours_s * 1e3, 50, " ms", "batch")
    )
    print(f"  the same as three lists of line objects: {lists_s * 1e3:.1f} ms")
    print(
        f"pure-Python baseline, same spec: {pure_s * 1e3:.0f} ms; "
        f"speed-up {pure_s / ours_s:.0f}x  "
        + targets.at_least(pure_s / ours_s, 20, "x", "speed-up")
    )

    h5, l5, c5 = series(6_000, seed=2)
    state = IndicatorState.from_arrays(h5[:5000], l5[:5000], c5[:5000])
    per = []
    for i in range(5000, 6000):
        t0 = time.perf_counter()
        state.update(h5[i], l5[i], c5[i])
        per.append(time.perf_counter() - t0)
    per.sort()
    print(
        f"incremental update, 5,000-bar window: median {statistics.median(per) * 1e3:.3f} ms, "
        f"p99 {per[int(len(per) * 0.99)] * 1e3:.3f} ms  "
        + targets.at_most(per[int(len(per) * 0.99)] * 1e3, 0.2, " ms", "update p99")
    )
    targets.exit()


if __name__ == "__main__":
    main()
