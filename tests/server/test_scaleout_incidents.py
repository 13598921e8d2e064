"""Owner alerts scaled out (issue #29): the leading engine process runs the checks; a missing
standby opens an incident that a started standby closes, and a change of leader opens one
that closes once the new leader has its standby. Real processes, PostgreSQL and Redis; the
owner's inbox is an aiosmtpd sink."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from tests.server.incidentkit import OWNER, mail, the_three
from tests.server.scalekit import NEEDS_PG_AND_REDIS, Cluster, wait_log
from tests.server.serverkit import Inbox, free_port

pytestmark = NEEDS_PG_AND_REDIS


@pytest.fixture
def inbox(cluster: Cluster) -> Iterator[Inbox]:
    box, port = Inbox(), free_port()
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    cluster.extra.update(
        TRADEALERTS_SMTP_URL=f"smtp://127.0.0.1:{port}", TRADEALERTS_OWNER_EMAIL=OWNER,
        TRADEALERTS_INCIDENT_CHECK_SECONDS="0.2", TRADEALERTS_INCIDENT_GRACE_SECONDS="0",
        TRADEALERTS_INCIDENT_DISK_FREE_MB="0", TRADEALERTS_INCIDENT_FEED_STALE_SECONDS="1e7",
    )  # fmt: skip
    try:
        yield box
    finally:
        smtp.stop()


def test_a_missing_standby_and_a_new_leader(cluster: Cluster, inbox: Inbox) -> None:
    standby, leader = "a standby engine is missing", "the engine leader changed"
    first = cluster.engine("engine1")
    wait_log(first, "engine leading")
    mail(inbox, f"[tradealerts] INCIDENT: {standby}", timeout=30)  # alone: no standby
    second = cluster.engine("engine2")
    wait_log(second, "standing by")
    mail(inbox, f"[tradealerts] RECOVERED: {standby}", timeout=30)
    first.signal(signal.SIGTERM)  # the leader goes: the standby takes the lease
    wait_log(second, "engine leading", timeout=60)
    mail(inbox, f"[tradealerts] INCIDENT: {leader}", timeout=30)
    mail(inbox, f"[tradealerts] INCIDENT: {standby}", count=2, timeout=30)
    third = cluster.engine("engine3")
    wait_log(third, "standing by")
    mail(inbox, f"[tradealerts] RECOVERED: {leader}", timeout=30)
    mail(inbox, f"[tradealerts] RECOVERED: {standby}", count=2, timeout=30)
    assert the_three(inbox, leader) == (1, 0, 1)
    assert the_three(inbox, standby) == (2, 0, 2)
