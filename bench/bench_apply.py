"""Alerts as code: ``tradealerts alerts apply FILE`` of a 20-alert TOML file against a local
server (the real command: reading and checking the file, the login, the HTTP request, the
server's plan and its one transaction). Times the first apply (20 creates), a re-apply that
changes nothing, and a swap to another 20-alert file with --prune (20 deletes, 20 creates),
each the median of several runs. Exits 1 when a target is missed."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchkit import Targets, cli_server, smoke

EMAIL, PASSWORD = "bench-apply@example.com", "a long benchmark passphrase"
RUNS = smoke(5, 1)
COUNT = 20
TARGET_S = 1.0


def alerts_file(path: Path, prefix: str) -> Path:
    """20 alerts of PRO's pairs and the issue-15 conditions and options."""
    kinds = [
        'condition = "crossing_up"\nlevel = {level}\ncooldown = "30m"\nmax_fires = 5',
        'condition = "line_break"\nside = "resistance"\nbuffer = 0.0005\nconfirm_bars = 2',
        'condition = "line_bounce"\nside = "support"\ndistance = 0.0008',
        'condition = "greater_than"\nlevel = {level}\nfrequency = "once_per_bar"',
    ]
    symbols = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "AUDUSD"]
    parts = []
    for i in range(COUNT):
        body = kinds[i % len(kinds)].format(level=900_000 + i)
        parts.append(
            f'[[alert]]\nname = "{prefix}-{i}"\nsymbol = "{symbols[i % len(symbols)]}"\n'
            f'timeframe = "H1"\n{body}\nmessage = "{{{{ticker}}}} {{{{interval}}}} at '
            f'{{{{close}}}}"\n'
        )
    path.write_text("\n".join(parts))
    return path


def wall(argv: list[str], env: dict[str, str], stdin: str = "") -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, input=stdin, text=True, capture_output=True)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[3:])} failed: {r.stderr.strip()}")
    return elapsed


def main() -> None:
    targets = Targets()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    cli = [sys.executable, "-m", "tradealerts"]
    with cli_server(env, EMAIL, PASSWORD) as tmp:
        a = alerts_file(Path(tmp) / "a.toml", "a")
        b = alerts_file(Path(tmp) / "b.toml", "b")
        wall([*cli, "alerts", "list", "--json"], env)  # warm the bytecode cache
        first = wall([*cli, "alerts", "apply", str(a)], env)
        same = statistics.median(wall([*cli, "alerts", "apply", str(a)], env) for _ in range(RUNS))
        swaps = []
        for k in range(RUNS * 2):  # a → b → a …: 20 deletes and 20 creates each time
            swaps.append(wall([*cli, "alerts", "apply", str(b if k % 2 == 0 else a),
                               "--prune"], env))  # fmt: skip
        swap = statistics.median(swaps)
    print(f"alerts apply, {COUNT}-alert file: first apply (20 creates) {first:.2f} s  "
          + targets.at_most(first, TARGET_S, " s", "apply 20 creates"))  # fmt: skip
    print(f"alerts apply, same file again (nothing changes): {same:.2f} s median of {RUNS}  "
          + targets.at_most(same, TARGET_S, " s", "apply unchanged"))  # fmt: skip
    swapped = targets.at_most(swap, TARGET_S, " s", "apply swap")
    print(
        f"alerts apply --prune, another 20-alert file (20 deletes + 20 creates): {swap:.2f} s "
        f"median of {RUNS * 2}  {swapped}"
    )
    targets.exit()


if __name__ == "__main__":
    main()
