"""Cross-field rules of an alert: which values its condition takes, and how they fit together."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradealerts.core.alerts.conditions import (
    BAR_CLOSE_CONDITIONS,
    CHANNEL_CONDITIONS,
    LINE_ID_DIAGONAL,
    LINE_ID_HORIZONTAL,
    OPTIONAL_VALUES,
    PCT_CONDITIONS,
    REQUIRED_VALUES,
    SIDES,
    VALUE_FIELDS,
    Condition,
    Frequency,
    PriceSource,
    Side,
)

__all__ = ["Problem", "spec_problems"]

#: (field, error type, message): one refusal, naming its field.
Problem = tuple[str, str, str]


def _takes(condition: Condition) -> str:
    names = REQUIRED_VALUES[condition] + OPTIONAL_VALUES[condition]
    return ", ".join(names) if names else "no values"


def spec_problems(
    condition: Condition,
    frequency: Frequency,
    price_source: PriceSource,
    values: Mapping[str, Any],
) -> list[Problem]:
    """Every way the values do not fit the condition (empty when they all do)."""
    out: list[Problem] = []
    allowed = set(REQUIRED_VALUES[condition]) | set(OPTIONAL_VALUES[condition])
    for name in VALUE_FIELDS:
        given = values.get(name) is not None
        if name in REQUIRED_VALUES[condition] and not given:
            out.append((name, "missing", f"is required by {condition}"))
        elif given and name not in allowed:
            out.append(
                (name, "extra_value", f"is not used by {condition} (it takes {_takes(condition)})")
            )
    if out:
        return out
    lower, upper = values.get("lower"), values.get("upper")
    if (
        condition in CHANNEL_CONDITIONS
        and lower is not None
        and upper is not None
        and lower >= upper
    ):
        out.append(("lower", "channel_order", f"must be below upper ({lower!r} >= {upper!r})"))
    amount = values.get("amount")
    if condition in PCT_CONDITIONS and amount is not None and amount > 100:
        out.append(("amount", "percent_range", f"is a percentage in (0, 100], got {amount!r}"))
    side = values.get("side")
    if side is not None and side not in SIDES[condition]:
        choices = ", ".join(sorted(s.value for s in SIDES[condition]))
        out.append(("side", "side_choice", f"must be one of {choices} for {condition}"))
    line_id = values.get("line_id")
    if line_id is not None:
        out.extend(_line_id_problems(condition, str(line_id), side))
    closed_bars = frequency == Frequency.once_per_bar_close or condition in BAR_CLOSE_CONDITIONS
    if closed_bars and price_source == PriceSource.ask:
        out.append(
            (
                "price_source",
                "ask_on_closed_bars",
                "must be bid: this alert is evaluated on closed bars, which are built from bids",
            )
        )
    return out


def _line_id_problems(condition: Condition, line_id: str, side: Any) -> list[Problem]:
    horizontal = LINE_ID_HORIZONTAL.match(line_id)
    diagonal = LINE_ID_DIAGONAL.match(line_id)
    if condition == Condition.line_break and horizontal is None:
        return [("line_id", "line_id", "must be a horizontal line id like hr-1732456800")]
    if condition == Condition.trendline_break and diagonal is None:
        return [("line_id", "line_id", "must be a trendline id like ds-1732442400-1732456800")]
    match = horizontal or diagonal
    if match is None:
        return [("line_id", "line_id", "must be a line id like hr-1732456800 or ds-…-…")]
    kind = Side.resistance if match.group(1) == "r" else Side.support
    if side is not None and side not in (Side.either, kind):
        return [("side", "side_choice", f"is {side} but line {line_id} is a {kind} line")]
    return []
