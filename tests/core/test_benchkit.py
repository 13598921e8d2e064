"""bench/benchkit.py's two modes, as ``make bench`` and ``make bench-smoke`` run a bench: a
missed timing target fails the real run and not the smoke run; a failed correctness check
fails both; a missing tool fails both with its reason. Each case is a real interpreter run
in bench/, as the Makefile runs a bench."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

TIMING = "print(t.at_most(2, 1, ' s', 'slow'))"
CORRECT = "print(t.exactly(1, 0, 'lost'))"
COUNT = "print(t.at_least(9, 10, '', 'frames received', timing=False))"


def run_bench(body: str, smoke: bool, path: str | None = None) -> subprocess.CompletedProcess[str]:
    code = f"from benchkit import Targets, need\nt = Targets()\n{body}\nt.exit()\n"
    env = {**os.environ, "BENCH_SMOKE": "1" if smoke else "0"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BENCH, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize("smoke", [False, True])
def test_a_timing_miss_fails_only_the_real_run(smoke: bool) -> None:
    r = run_bench(TIMING, smoke)
    if smoke:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "not checked in smoke mode" in r.stdout
    else:
        assert r.returncode == 1, r.stdout + r.stderr
        assert "MISSED 1 target(s): slow" in r.stdout


@pytest.mark.parametrize("smoke", [False, True])
@pytest.mark.parametrize("body", [CORRECT, COUNT])
def test_a_correctness_failure_fails_both(smoke: bool, body: str) -> None:
    r = run_bench(body, smoke)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "MISSED 1 target(s)" in r.stdout


@pytest.mark.parametrize("smoke", [False, True])
def test_a_missing_tool_fails_with_its_reason(smoke: bool) -> None:
    r = run_bench("need('bench_x', 'wrk')", smoke, path="/nonexistent")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "bench_x: cannot run, wrk missing" in r.stderr


def test_targets_met_pass_both() -> None:
    for smoke in (False, True):
        r = run_bench("print(t.at_most(1, 2, ' s', 'fast'), t.exactly(0, 0, 'lost'))", smoke)
        assert r.returncode == 0, r.stdout + r.stderr
