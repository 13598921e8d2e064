"""Fixtures for server tests: see serverkit.py for the real parts they start."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.server.serverkit import (
    PG_URL,
    Clock,
    Inbox,
    Running,
    running_smtp,
    server_settings,
    start_server,
)
from tests.server.stripekit import StripeDouble, setup_price, stripe_double, stripe_settings


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with running_smtp() as sink:
        yield sink


@pytest.fixture(params=["sqlite", "postgresql"] if PG_URL else ["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    assert PG_URL is not None
    name = f"tradealerts_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def make_server(
    tmp_path: Path, db_url: str, smtp: tuple[Inbox, int]
) -> Iterator[Callable[..., Running]]:
    """Start a server; keyword arguments override its settings."""
    inbox, smtp_port = smtp
    running: list[Running] = []

    def make(**overrides: Any) -> Running:
        settings = server_settings(tmp_path / f"home{len(running)}", db_url, smtp_port, **overrides)
        srv = start_server(settings, Clock(), inbox)
        running.append(srv)
        return srv

    yield make
    for srv in running:
        srv.stop()


@pytest.fixture
def server(make_server: Callable[..., Running]) -> Running:
    return make_server()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Any]:
    """A scale-out deployment's shared environment (``scalekit.Cluster``) on a PostgreSQL
    database of its own; every process it started is stopped afterwards."""
    from tests.server.scalekit import REDIS_URL, Cluster, pg_database

    assert REDIS_URL is not None
    with pg_database() as db:
        c = Cluster(tmp_path, db, REDIS_URL)
        try:
            yield c
        finally:
            c.stop()


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    """localstripe with the Checkout/portal stand-in: one for each module that asks."""
    with stripe_double() as d:
        yield d


@pytest.fixture(scope="module")
def price_id(double: StripeDouble) -> str:
    return setup_price(double)


@pytest.fixture
def billing_server(
    make_server: Callable[..., Running], double: StripeDouble, price_id: str
) -> Running:
    """A server that sells PRO through the double, which sends its webhooks there."""
    # the stream's own check of the tier comes with each heartbeat, an hour apart here: a
    # tier event came from the change itself
    srv = make_server(**stripe_settings(double, price_id), stream_heartbeat_seconds=3600)
    double.send_webhooks_to(f"{srv.url}/api/webhooks/stripe")
    return srv
