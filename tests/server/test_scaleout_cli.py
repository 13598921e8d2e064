"""The scale-out commands refuse what cannot work with one clear line and exit code 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    base.update(TRADEALERTS_HOME=str(tmp_path), **env)
    return subprocess.run(
        [str(BIN / "tradealerts-server"), *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["engine"], "engine needs TRADEALERTS_REDIS_URL"),
        (["serve", "--scale-out"], "--scale-out needs TRADEALERTS_REDIS_URL"),
        (["serve", "--workers", "2"], "--workers needs the engine apart"),
        # embedded (no Redis): the local server, here none
        (["status", "--server", "http://127.0.0.1:9"], "no tradealerts server answers at"),
    ],
)
def test_refused_with_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    out = _run(tmp_path, *args)
    assert out.returncode == 1
    assert out.stderr.startswith(f"Error: {says}")
    assert len(out.stderr.strip().splitlines()) == 1  # one line, no traceback


def test_status_with_redis_away(tmp_path: Path) -> None:
    out = _run(tmp_path, "status", TRADEALERTS_REDIS_URL="redis://127.0.0.1:1/0")
    assert out.returncode == 1
    assert out.stderr.startswith("Error: status: ConnectionError")
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
