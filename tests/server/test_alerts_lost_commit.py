"""A lost COMMIT on real PostgreSQL, while fires flow: the fault proxy sits on the server's
database connections, lets a batch of fires' ``COMMIT`` reach PostgreSQL and drops the answer
(the connection cut, the commit done). The engine retries the batch under its key; the log
ends with every expected fire once, none lost, none twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.faultproxy import PgCommitCut
from tests.server.scalekit import pg_database
from tests.server.serverkit import PG_URL, Running, wait_until
from tests.server.test_alerts_durability import (
    HISTORY,
    SPEED,
    alerts_through_the_api,
    check_log,
    replay_file,
)

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL's wire protocol: set TRADEALERTS_TEST_DATABASE_URL"
)

CUTS = 3  # batches whose COMMIT answer is lost, one after the other


@pytest.fixture
def pg_db() -> Iterator[str]:
    """A PostgreSQL database of this test's own."""
    with pg_database() as url:
        yield url


@pytest.fixture
def proxy(pg_db: str) -> Iterator[tuple[PgCommitCut, str]]:
    """The proxy in front of PostgreSQL's port, and the database URL through it (unencrypted:
    the proxy reads the protocol)."""
    parts = urlsplit(pg_db)
    cutter = PgCommitCut(parts.port or 5432, marker=b"INSERT INTO fire_batches").start()
    netloc = parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{cutter.port}"
    url = parts._replace(netloc=netloc, query="sslmode=disable&gssencmode=disable").geturl()
    try:
        yield cutter, url
    finally:
        cutter.close()


@pytest.fixture
def db_url(proxy: tuple[PgCommitCut, str]) -> str:
    """``make_server``'s database: the test's own, through the proxy."""
    return proxy[1]


def test_a_lost_commit_answer_mid_replay_loses_and_doubles_no_fire(
    make_server: Callable[..., Running],
    tmp_path: Path,
    proxy: tuple[PgCommitCut, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cutter = proxy[0]
    caplog.set_level(logging.INFO, logger="tradealerts.alerts")
    csv = tmp_path / "EURUSD_H1.csv"
    bars = replay_file(csv)
    srv = make_server(
        feed=f"replay:{csv}",
        replay_speed=SPEED,
        history_bars=HISTORY,
        alert_backlog_limit=5,
        alert_retry_max_seconds=0.5,
    )
    c, ids = alerts_through_the_api(srv)
    cutter.arm(CUTS)  # the next batches of fires lose their COMMIT's answer
    wait_until(lambda: cutter.cut >= CUTS, timeout=60, what="the lost COMMITs")
    check_log(srv, c, bars, ids)
    # each cut batch was committed, then retried under its key and found there
    assert cutter.cut == CUTS
    found = [r for r in caplog.records if "was already committed" in r.getMessage()]
    assert len(found) == CUTS, [r.getMessage() for r in caplog.records]
