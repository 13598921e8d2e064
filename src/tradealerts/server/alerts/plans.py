"""Many alerts at once: clone, bulk pause/resume/delete by filter, and ``apply`` (alerts as
code). Each runs in the caller's one transaction: the route commits once, or nothing.

``apply`` matches entries to the user's alerts by ``name``: a new name is created, a known
one whose definition differs is replaced by the entry (fields it leaves out take their
defaults: the file is the truth), and with ``prune`` the user's alerts the file no longer
names are deleted. Status is not part of a definition: apply never pauses or resumes.
Every entry is checked before anything changes; any problem (a bad field, a pair or webhook
the tier does not allow, a duplicate name) or passing the tier's active-alert limit refuses
the whole plan, naming each failing entry and its field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from tradealerts.core.alerts import AlertCreate, AlertStatus, AlertUpdate, merge_update
from tradealerts.core.alerts.plans import (
    AlertApplyProblem,
    AlertBulk,
    AlertBulkResult,
    AlertClone,
    AlertPlan,
    AlertPlanItem,
)
from tradealerts.core.messages import N_, Text, _, localise, reader_language
from tradealerts.core.tiers import TIERS, AccessDenied, Tier
from tradealerts.server.alerts import records
from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.db.models import AlertRow, User
from tradealerts.server.errors import ApiError, Invalid, plan_full
from tradealerts.server.language import validation_text
from tradealerts.server.push import store as push_store

__all__ = ["apply_plan", "bulk_change", "clone_alert"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso(at: datetime) -> str:
    return f"{at:%Y-%m-%dT%H:%M:%SZ}"


def _said(text: Text) -> str:
    """A problem's sentence in the caller's language (a problem is a model: it keeps a
    plain ``str``, so it is said now, not when the error is answered)."""
    return localise(text, reader_language())


def clone_alert(
    s: Session, user: User, row: AlertRow, clone: AlertClone, now: datetime, guard: WebhookGuard
) -> AlertRow:
    """A new active alert like ``row``, with the clone's symbol, timeframe and name (without
    a name it gets the default one)."""
    current = records.spec_of(row).model_copy(update={"name": None})
    patch = AlertUpdate.model_validate(clone.model_dump(exclude_none=True))
    try:
        spec = merge_update(current, patch, now=_EPOCH, allow_insecure_loopback=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        said = validation_text(first)
        raise Invalid(_("{field}: {msg}", field=field, msg=said), field=field) from None
    records.refuse_expired(
        spec, now, row.id, N_("Alert {id} expired at {expires_at}; a copy would too.")
    )
    return records.create_alert(s, user, spec, now, guard)


def bulk_change(
    s: Session,
    user: User,
    bulk: AlertBulk,
    where: list[ColumnElement[bool]],
    now: datetime,
    guard: WebhookGuard,
) -> tuple[AlertBulkResult, list[AlertRow | int]]:
    """Pause, resume or delete every matching alert; those already so are skipped. Returns
    the result and what to hand the engine (rows changed, ids deleted)."""
    rows = s.scalars(select(AlertRow).where(*where).order_by(AlertRow.id)).all()
    done: list[int] = []
    skipped: list[int] = []
    touched: list[AlertRow | int] = []
    if bulk.action == "delete":
        for row in rows:
            done.append(row.id)
            touched.append(row.id)
            records.delete_alert(s, row, now)
        return AlertBulkResult(action=bulk.action, ids=done), touched
    if bulk.action == "pause":
        for row in rows:
            if row.status != AlertStatus.active.value:
                skipped.append(row.id)
                continue
            records.pause_alert(s, row, now)
            done.append(row.id)
            touched.append(row)
        return AlertBulkResult(action=bulk.action, ids=done, skipped=skipped), touched
    for row in rows:
        spec = records.spec_of(row)
        if row.status == AlertStatus.active.value or (
            spec.expires_at is not None and spec.expires_at <= now
        ):
            skipped.append(row.id)
            continue
        records.resume_alert(s, user, row, now, guard)  # the tier's limit refuses the whole
        done.append(row.id)
        touched.append(row)
    return AlertBulkResult(action=bulk.action, ids=done, skipped=skipped), touched


def _entry_problems(
    index: int, raw: Any, user: User, guard: WebhookGuard
) -> tuple[AlertCreate | None, list[AlertApplyProblem]]:
    """The entry as a spec (expiry checked later), or why it cannot be one."""
    name = raw.get("name") if isinstance(raw, dict) else None
    name = name if isinstance(name, str) else None

    def problem(field: str | None, message: str) -> AlertApplyProblem:
        return AlertApplyProblem(index=index, name=name, field=field, message=message)

    if not isinstance(raw, dict):
        return None, [problem(None, "each entry must be a table of fields")]
    try:
        spec = AlertCreate.model_validate(
            raw,
            context={
                "now": _EPOCH,
                "allow_insecure_loopback": guard.allows_plain_http_to_loopback(),
            },
        )
    except ValidationError as exc:
        return None, [
            problem(".".join(str(p) for p in e["loc"]) or None, e["msg"]) for e in exc.errors()
        ]
    if spec.name is None:
        return None, [problem("name", "is required: apply matches alerts by name")]
    try:
        records.check_spec(user, spec, guard)
    except AccessDenied as exc:
        field = "channels.webhook_url" if "ebhook" in exc.message else "symbol"
        return None, [problem(field, exc.message)]
    except ApiError as exc:
        return None, [problem(exc.extra.get("field"), exc.message)]
    return spec, []


def apply_plan(
    s: Session,
    user: User,
    entries: list[Any],
    *,
    prune: bool,
    dry_run: bool,
    now: datetime,
    guard: WebhookGuard,
) -> tuple[AlertPlan, list[AlertRow | int]]:
    """Check every entry, plan, and (unless ``dry_run``) apply the plan in ``s``'s
    transaction. Raises ``Invalid`` (422 ``apply_invalid``) or ``ApiError`` (403
    ``alert_limit``) with ``problems``: one per failing entry."""
    existing = {
        r.name: r for r in s.scalars(select(AlertRow).where(AlertRow.user_id == user.id)).all()
    }
    problems: list[AlertApplyProblem] = []
    specs: list[AlertCreate] = []
    seen: set[str] = set()
    for index, raw in enumerate(entries):
        spec, found = _entry_problems(index, raw, user, guard)
        problems += found
        if spec is None or spec.name is None:
            continue
        try:  # the push channels it names are the user's (and the plan has them)
            push_store.check_notify(s, user, spec.channels.notify)
        except (ApiError, AccessDenied) as exc:
            problems.append(AlertApplyProblem(
                index=index, name=spec.name, field="channels.notify", message=exc.message
            ))  # fmt: skip
            continue
        if spec.name in seen:
            problems.append(AlertApplyProblem(
                index=index, name=spec.name, field="name",
                message=_said(_("appears twice in the file")),
            ))  # fmt: skip
            continue
        seen.add(spec.name)
        row = existing.get(spec.name)
        old = records.spec_of(row) if row is not None else None
        expiry_changed = old is None or old.expires_at != spec.expires_at
        if expiry_changed and spec.expires_at is not None and spec.expires_at <= now:
            problems.append(AlertApplyProblem(
                index=index, name=spec.name, field="expires_at",
                message=_said(_("is in the past ({at})", at=_iso(spec.expires_at))),
            ))  # fmt: skip
            continue
        specs.append(spec)
    if problems:
        raise Invalid(
            _("{count} problem(s) in the alerts file; nothing was changed.", count=len(problems)),
            code="apply_invalid",
            problems=[p.model_dump() for p in problems],
        )
    items: list[AlertPlanItem] = []
    for spec in specs:
        name = spec.name or ""  # every spec here has one (checked above)
        row = existing.get(name)
        if row is None:
            items.append(AlertPlanItem(op="create", name=name))
            continue
        before = records.stored_spec(records.spec_of(row))
        after = records.stored_spec(spec)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        items.append(
            AlertPlanItem(op="update" if changed else "unchanged", name=name, id=row.id,
                          fields=changed)
        )  # fmt: skip
    if prune:
        for name, row in sorted(existing.items(), key=lambda kv: kv[1].id):
            if name not in seen:
                items.append(AlertPlanItem(op="delete", name=name, id=row.id))
    _check_limit(user, existing, items, {spec.name: i for i, spec in enumerate(specs)})
    if dry_run:
        return AlertPlan(items=items, applied=False), []
    touched: list[AlertRow | int] = []
    by_name = {spec.name: spec for spec in specs}
    for item in items:  # deletes first: they make room; then updates, then creates
        if item.op == "delete":
            records.delete_alert(s, existing[item.name], now)
            touched.append(existing[item.name].id)
    s.flush()
    for item in items:
        if item.op == "update":
            row = existing[item.name]
            records.replace_alert(s, user, row, by_name[item.name], now, guard)
            touched.append(row)
    for item in items:
        if item.op == "create":
            row = records.create_alert(s, user, by_name[item.name], now, guard)
            item.id = row.id
            touched.append(row)
    return AlertPlan(items=items, applied=True), touched


def _check_limit(
    user: User,
    existing: dict[str, AlertRow],
    items: list[AlertPlanItem],
    index_of: dict[str | None, int],
) -> None:
    """Refuse a plan that would leave more active alerts than the tier allows, naming the
    new alerts past the limit."""
    tier = Tier(user.tier)
    limit = TIERS[tier].active_alerts
    deleted = {i.name for i in items if i.op == "delete"}
    active = sum(
        1 for n, r in existing.items() if r.status == AlertStatus.active.value and n not in deleted
    )
    over: list[AlertApplyProblem] = []
    for item in items:
        if item.op != "create":
            continue
        active += 1
        if active > limit:
            over.append(AlertApplyProblem(
                index=index_of.get(item.name, -1), name=item.name, field=None,
                message=_said(_(
                    "would be active alert {active}; your {tier} plan allows {limit}",
                    active=active, tier=tier, limit=limit,
                )),
            ))  # fmt: skip
    if over:
        raise plan_full(
            tier,
            "active_alerts",
            N_(
                "Applying this file would leave {active} active alerts; your {tier} "
                "plan allows {limit}. Nothing was changed."
            ),
            code="alert_limit",
            extra={"problems": [p.model_dump() for p in over]},
            active=active,
        )
