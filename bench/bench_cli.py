"""Client benchmarks: ``tradealerts --help`` start-up (median of 10) against ``import typer``,
and ``tradealerts alerts list --json`` wall time against a local server with 20 alerts.
Exits 1 when a target is missed."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from benchkit import Targets, cli_server, smoke

EMAIL, PASSWORD = "bench-cli@example.com", "a long benchmark passphrase"
RUNS = smoke(10, 2)
ALERTS = smoke(20, 3)


def wall(argv: list[str], env: dict[str, str], stdin: str = "") -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, input=stdin, text=True, capture_output=True, check=True)
    return time.perf_counter() - t0


def median_of(argv: list[str], env: dict[str, str]) -> float:
    wall(argv, env)  # warm the bytecode cache
    return statistics.median(wall(argv, env) for _ in range(RUNS))


def main() -> None:
    targets = Targets()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEALERTS_")}
    cli = [sys.executable, "-m", "tradealerts"]
    typer_s = median_of([sys.executable, "-c", "import typer"], env)
    help_s = median_of([*cli, "--help"], env)
    print(
        f"tradealerts --help: {help_s * 1e3:.0f} ms median of {RUNS}; import typer "
        f"{typer_s * 1e3:.0f} ms; ratio {help_s / typer_s:.2f}x  "
        + targets.at_most(help_s / typer_s, 1.5, "x", "--help start-up")
    )
    with cli_server(env, EMAIL, PASSWORD):
        for i in range(ALERTS):
            wall([*cli, "alerts", "create", "EURUSD", "H1", "crossing_up",
                  str(900_000 + i)], env)  # fmt: skip
        list_s = median_of([*cli, "alerts", "list", "--json"], env)
        print(
            f"tradealerts alerts list --json ({ALERTS} alerts): {list_s * 1e3:.0f} ms median of "
            f"{RUNS}  " + targets.at_most(list_s * 1e3, 400, " ms", "alerts list")
        )
    targets.exit()


if __name__ == "__main__":
    main()
