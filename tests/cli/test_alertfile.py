"""Alerts files: every field of a definition survives export and reading back, in each
format; syntax and shape errors are plain messages; the local check names every entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tradealerts.client import alertfile
from tradealerts.core.alerts import AlertCreate, AlertPublic, AlertStatus

FULL = {
    "name": "xau-h4-bounce", "symbol": "XAUUSD", "timeframe": "H4", "condition": "line_bounce",
    "side": "support", "distance": 0.8, "frequency": "once_per_bar_close", "cooldown": 7200,
    "max_fires": 5, "expires_at": "2030-01-02T03:04:05Z",
    "message": "{{ticker}} {{interval}} bounced at {{close}}",
    "channels": {"email": True, "webhook_url": "https://hooks.slack.com/services/T/B/X",
                 "webhook_format": "slack"},
}  # fmt: skip


def public(**extra: object) -> AlertPublic:
    spec = AlertCreate.model_validate(FULL | extra)
    return AlertPublic(
        id=7,
        **spec.model_dump(),
        status=AlertStatus.paused,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        fire_count=3,
    )


@pytest.mark.parametrize("fmt", alertfile.FORMATS)
def test_every_field_round_trips_and_status_is_not_part_of_it(fmt: str) -> None:
    other = public(
        name="eurusd-break", symbol="EURUSD", timeframe="H1", condition="line_break",
        side="resistance", distance=None, buffer=0.0005, confirm_bars=2, expires_at=None,
        message=None,
    )  # fmt: skip
    alerts = [public(), other]
    text = alertfile.dumps([alertfile.entry_of(a) for a in alerts], fmt)
    assert "status" not in text and "fire_count" not in text and "paused" not in text
    back = alertfile.loads(text, fmt)
    assert alertfile.check(back) == []
    for entry, original in zip(back, alerts, strict=True):
        again = AlertCreate.model_validate(entry)
        assert (
            again.model_dump()
            == AlertCreate.model_validate(
                original.model_dump(include=set(AlertCreate.model_fields))
            ).model_dump()
        )
    assert next(iter(back[0])) == "name"  # the key first, for people reading the file


def test_bad_files_and_bad_entries_say_what_and_where() -> None:
    with pytest.raises(alertfile.AlertFileError, match="not valid TOML"):
        alertfile.loads("[[alert]\nname = ", "toml")
    with pytest.raises(alertfile.AlertFileError, match="list of alerts"):
        alertfile.loads('{"alert": {"name": "x"}}', "json")
    assert alertfile.loads("", "yaml") == []
    many = {"alert": [{"name": f"n{i}"} for i in range(501)]}
    with pytest.raises(alertfile.AlertFileError, match="501 alerts: a file holds at most 500"):
        alertfile.loads(json.dumps(many), "json")
    assert alertfile.format_of("a.yml") == "yaml" and alertfile.format_of("a.txt") == "toml"
    entries = [
        {"symbol": "EURUSD", "timeframe": "H1", "condition": "crossing", "level": 1.1},
        {"name": "a", "symbol": "EURUSD", "timeframe": "H9", "condition": "crossing",
         "level": 1.1},
        {"name": "b", "symbol": "EURUSD", "timeframe": "H1", "condition": "crossing",
         "level": 1.1, "cooldown": "soon"},
        {"name": "b", "symbol": "EURUSD", "timeframe": "H1", "condition": "crossing",
         "level": 1.1},
        "not a table",
    ]  # fmt: skip
    problems = alertfile.check(entries)
    assert [(i, name, field) for i, name, field, _ in problems] == [
        (0, None, "name"),
        (1, "a", "timeframe"),
        (2, "b", "cooldown"),
        (4, None, None),
    ]
    # a duplicate is found once the first of the name was valid
    dup = alertfile.check([entries[3], entries[3]])
    assert [(i, field) for i, _, field, _ in dup] == [(1, "name")]
