"""Client benchmarks: ``tradealerts --help`` start-up (median of 10) against ``import typer``,
and ``tradealerts alerts list --json`` wall time against a local server with 20 alerts.
Exits 1 when a target is missed."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchkit import BIN, Targets, free_port, wait_up

EMAIL, PASSWORD = "bench-cli@example.com", "a long benchmark passphrase"
RUNS = 10


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
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env.update(
            TRADEALERTS_HOME=tmp,
            TRADEALERTS_SERVER=base,
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        )
        subprocess.run(
            [str(BIN / "tradealerts-server"), "admin", "create-user", EMAIL, "--tier", "PRO",
             "--password-stdin"],
            input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True,
        )  # fmt: skip
        server = subprocess.Popen(
            [str(BIN / "tradealerts-server"), "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_up(f"{base}/api/system/health", server)
            wall([*cli, "login", "--email", EMAIL, "--password-stdin"], env, PASSWORD + "\n")
            for i in range(20):
                wall([*cli, "alerts", "create", "EURUSD", "H1", "crossing_up",
                      str(900_000 + i)], env)  # fmt: skip
            list_s = median_of([*cli, "alerts", "list", "--json"], env)
            print(
                f"tradealerts alerts list --json (20 alerts): {list_s * 1e3:.0f} ms median of "
                f"{RUNS}  " + targets.at_most(list_s * 1e3, 400, " ms", "alerts list")
            )
        finally:
            server.terminate()
            server.wait(20)
    targets.exit()


if __name__ == "__main__":
    main()
