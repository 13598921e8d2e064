"""Fixtures for daemon tests: a real server per test (SQLite, loopback) and daemons as
subprocesses; see daemonkit.py."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tests.daemon.daemonkit import DaemonProc
from tests.server.serverkit import (
    Clock,
    Inbox,
    Running,
    free_port,
    server_settings,
    start_server,
)

_ids = itertools.count(1)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start a server on loopback; keyword arguments override its settings. Two calls with the
    same ``database_url`` and ``home`` are the same server started again."""
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    running: list[Running] = []

    def make(**overrides: Any) -> Running:
        settings = server_settings(
            tmp_path / "server", f"sqlite:///{tmp_path / 'server.db'}", smtp_port, **overrides
        )
        srv = start_server(settings, Clock(), inbox)
        running.append(srv)
        return srv

    yield make
    for srv in running:
        srv.stop()
    controller.stop()


@pytest.fixture
def server(make_server: Callable[..., Running]) -> Running:
    return make_server(stream_heartbeat_seconds=1.0)


@pytest.fixture
def email() -> str:
    return f"d{next(_ids)}-{os.getpid()}@example.com"


@pytest.fixture
def daemons() -> Iterator[list[DaemonProc]]:
    """Every daemon a test starts is killed at the end, whatever happened."""
    started: list[DaemonProc] = []
    yield started
    for d in started:
        d.kill()
