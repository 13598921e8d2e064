"""The rules the CLI and the TUI's alert form both read (issue #28): one place in core, and
both sides answer alike at its edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from tradealerts.cli.alerts.common import parse_ago, parse_expiry
from tradealerts.cli.context import UsageProblem
from tradealerts.core.alerts import (
    NUMBER_VALUES,
    VALUE_FIELDS,
    AlertCreate,
    channel_names,
    parse_when,
)
from tradealerts.tui.screens.alert_form import parse_expiry as form_expiry

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW + timedelta(minutes=30)),
        (" 12H ", NOW + timedelta(hours=12)),
        ("7d", NOW + timedelta(days=7)),
        ("2w", NOW + timedelta(weeks=2)),
        ("2026-12-31", datetime(2026, 12, 31, tzinfo=UTC)),
        ("2026-12-31T18:00Z", datetime(2026, 12, 31, 18, 0, tzinfo=UTC)),
        (
            "2026-12-31T18:00+02:00",
            datetime(2026, 12, 31, 18, 0, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("soon", None),
        ("7 days", None),
        ("", None),
        ("99999999999999d", None),  # past any calendar: not a duration, never an OverflowError
        ("9999999w", None),
    ],
)
def test_parse_when(text: str, expected: datetime | None) -> None:
    assert parse_when(text, NOW) == expected
    if expected is not None and text.strip()[-1] in "mhdwH":  # a span: ``ago`` goes back
        assert parse_when(text, NOW, ago=True) == NOW - (expected - NOW)


def test_the_cli_and_the_form_refuse_alike_what_core_refuses() -> None:
    for text in ("soon", "99999999999999d"):
        with pytest.raises(UsageProblem, match="is not a duration"):
            parse_expiry(text, NOW)
        with pytest.raises(UsageProblem, match=r"--since: .* is not a duration"):
            parse_ago(text, NOW, "--since")
        assert isinstance(form_expiry(text, NOW), str)
    assert parse_expiry("10000d", NOW) == form_expiry("10000d", NOW) == parse_when("10000d", NOW)


def test_number_values_are_the_kinds_the_schema_takes() -> None:
    """Every number a condition takes, read with its kind from core, is accepted as it is
    (the whole ones are strict: "2" as text is refused, which the form used to send)."""
    assert set(NUMBER_VALUES) <= set(VALUE_FIELDS)
    base = {"symbol": "EURUSD", "timeframe": "H1", "condition": "line_break", "side": "support"}
    for name in ("buffer", "confirm_bars"):
        value = NUMBER_VALUES[name]("2")
        assert AlertCreate.model_validate({**base, name: value}).model_dump()[name] == 2
    with pytest.raises(ValidationError):
        AlertCreate.model_validate({**base, "confirm_bars": "2"})
    assert NUMBER_VALUES["bars"] is int and NUMBER_VALUES["level"] is float


def test_channel_names() -> None:
    assert channel_names(" Phone, ,TEAM ,") == ["phone", "team"]
    assert channel_names("") == []
