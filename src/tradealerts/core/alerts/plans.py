"""Wire schemas of the alerts' bulk operations: clone, bulk pause/resume/delete by filter,
and ``apply`` (alerts as code: a whole file of named alerts, applied at once or not at all)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tradealerts.core.alerts.conditions import AlertStatus, Condition
from tradealerts.core.alerts.schemas import Name, Symbol, TimeframeIn
from tradealerts.core.schemas import SYMBOL_MAX_LENGTH

__all__ = [
    "MAX_APPLY_ENTRIES",
    "AlertApply",
    "AlertApplyProblem",
    "AlertBulk",
    "AlertBulkResult",
    "AlertClone",
    "AlertPlan",
    "AlertPlanItem",
]


#: entries in one ``POST /api/alerts/apply`` (one file)
MAX_APPLY_ENTRIES = 500


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AlertClone(_In):
    """What a copy changes: another symbol, timeframe or name (else the original's)."""

    symbol: Symbol | None = Field(default=None, max_length=SYMBOL_MAX_LENGTH)
    timeframe: TimeframeIn | None = None
    name: Name | None = None


class AlertBulk(_In):
    """Pause, resume or delete every alert of the caller matching the filter, in one
    transaction. At least one filter, or ``all: true``."""

    action: Literal["pause", "resume", "delete"]
    symbol: Symbol | None = Field(default=None, max_length=SYMBOL_MAX_LENGTH)
    timeframe: TimeframeIn | None = None
    status: AlertStatus | None = None
    condition: Condition | None = None
    all: StrictBool = False  # a JSON true only: "yes" or 1 must not delete every alert


class AlertBulkResult(BaseModel):
    """The alerts the bulk action changed (``ids``) and those it left as they were, e.g.
    already paused (``skipped``)."""

    action: str
    ids: list[int]
    skipped: list[int] = Field(default_factory=list)


class AlertApply(_In):
    """A whole alerts file. Entries are checked one by one (each refusal names its entry),
    so they are plain objects here; each needs a ``name``."""

    alerts: list[Any] = Field(max_length=MAX_APPLY_ENTRIES)
    prune: StrictBool = False  # JSON true/false only, as every input flag
    dry_run: StrictBool = False


class AlertPlanItem(BaseModel):
    """One line of the plan: ``create`` (+), ``update`` (~, with the fields that change),
    ``delete`` (-, only with ``prune``) or ``unchanged``."""

    op: Literal["create", "update", "delete", "unchanged"]
    name: str
    id: int | None = None
    fields: list[str] = Field(default_factory=list)


class AlertPlan(BaseModel):
    """What ``apply`` did, or (``applied: false``, a dry run) would do."""

    items: list[AlertPlanItem]
    applied: bool


class AlertApplyProblem(BaseModel):
    """Why one entry of an alerts file cannot be applied."""

    index: int
    name: str | None
    field: str | None
    message: str
