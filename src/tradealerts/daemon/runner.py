"""``tradealerts daemon run``: take the lock, set up the log, pick the notifier, run the loop."""

from __future__ import annotations

import asyncio
import logging
import sys

from tradealerts.daemon.control import AlreadyRunning, Lock, StatusFile, running_pid
from tradealerts.daemon.log import setup_logging
from tradealerts.daemon.options import Options
from tradealerts.daemon.paths import DaemonPaths

__all__ = ["run"]

log = logging.getLogger("tradealerts.daemon")


async def _main(options: Options, paths: DaemonPaths) -> None:
    from tradealerts.daemon.loop import Daemon
    from tradealerts.daemon.notify import choose
    from tradealerts.daemon.state import StateDB

    backend = await choose(options.notifier)
    state = StateDB(paths.state_db)
    try:
        pruned = state.prune()
        if pruned:
            log.info("forgot %d delivered event(s) older than 90 days", pruned)
        daemon = Daemon(options, state, backend, status=StatusFile(paths))
        daemon.install_signal_handlers()
        why = getattr(backend, "why", None)
        log.info(
            "daemon for %s started (notifier: %s, last event id: %s)",
            options.server,
            f"{backend.name}: {why}" if why else backend.name,
            state.last_event_id(),
        )
        await daemon.run()
    finally:
        state.close()
        log.info("daemon stopped")


def _skip_numpy() -> None:
    """sqlite-utils imports numpy, when installed, only to map numpy column types; the daemon
    never stores numpy values, and numpy costs ~15 MB of the idle daemon's RSS (measured by
    bench_daemon.py). Only the daemon's own process does this."""
    if "numpy" not in sys.modules:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # import numpy → ImportError


def run(options: Options, *, foreground: bool = True) -> None:
    """Run until SIGTERM/SIGINT. Raises AlreadyRunning when another daemon has the lock."""
    _skip_numpy()
    paths = DaemonPaths.for_server(options.server).ensure()
    lock = Lock(paths)
    if not lock.acquire():
        raise AlreadyRunning(running_pid(paths), options.server)
    try:
        setup_logging(paths.log, foreground=foreground)
        asyncio.run(_main(options, paths))
    finally:
        lock.release()
