"""Subscription status → tier: DESIGN.md's table, in one place."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradealerts.core.tiers import Tier

__all__ = ["ENDED", "PAID", "grace_ends", "tier_for"]

#: Statuses that open PRO outright.
PAID = frozenset({"active", "trialing"})
#: Statuses after which the subscription no longer opens anything.
ENDED = frozenset({"canceled", "unpaid", "incomplete_expired"})


def grace_ends(past_due_since: datetime | None, grace_days: int) -> datetime | None:
    return None if past_due_since is None else past_due_since + timedelta(days=grace_days)


def tier_for(status: str, past_due_since: datetime | None, now: datetime, grace_days: int) -> Tier:
    """``active``/``trialing`` → PRO; ``past_due`` → PRO until the grace period ends; any
    other status (``canceled``, ``unpaid``, ``incomplete_expired``, ``incomplete``) → FREE."""
    if status in PAID:
        return Tier.PRO
    if status == "past_due":
        ends = grace_ends(past_due_since, grace_days)
        return Tier.PRO if ends is None or now < ends else Tier.FREE
    return Tier.FREE
