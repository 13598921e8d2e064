"""Alert wire schemas, messages and trigger rules: every refusal names its field."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from tradealerts.core.alerts import (
    OPTIONAL_VALUES,
    REQUIRED_VALUES,
    VALUE_FIELDS,
    AlertCreate,
    AlertPublic,
    AlertStatus,
    AlertUpdate,
    Condition,
    Frequency,
    PriceSource,
    Side,
    default_message,
    is_expired,
    may_fire,
    merge_update,
    message_fields,
    rearm_time,
    render_message,
    status_after_fire,
    template_problem,
    validate_alert,
    window_start,
)
from tradealerts.core.messages import _
from tradealerts.core.timeframes import Timeframe

NOW = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)

#: A valid set of values for each condition.
GOOD: dict[Condition, dict[str, Any]] = {
    **{c: {"level": 1.09} for c in ("greater_than", "less_than", "crossing")},
    Condition.crossing_up: {"level": 1.09},
    Condition.crossing_down: {"level": 1.09},
    **{
        c: {"lower": 1.08, "upper": 1.09}
        for c in ("entering_channel", "exiting_channel", "inside_channel", "outside_channel")
    },
    **{c: {"amount": 0.5, "bars": 3} for c in ("moving_up", "moving_down")},
    **{c: {"amount": 0.5, "bars": 3} for c in ("moving_up_pct", "moving_down_pct")},
    Condition.new_fractal: {},
    Condition.line_break: {},
    Condition.trendline_break: {},
    Condition.line_touch: {"distance": 0.0005},
    Condition.line_bounce: {"distance": 0.0005},
}
GOOD = {Condition(k): v for k, v in GOOD.items()}


def body(condition: str = "crossing_up", **values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"symbol": "EURUSD", "timeframe": "H1", "condition": condition}
    base.update(GOOD[Condition(condition)])
    base.update(values)
    return base


def errors(data: dict[str, Any], **kw: Any) -> dict[tuple[Any, ...], str]:
    """The validation errors as {loc: message}; fails when the data is valid."""
    with pytest.raises(ValidationError) as info:
        validate_alert(data, now=NOW, **kw)
    return {tuple(e["loc"]): e["msg"] for e in info.value.errors()}


def test_every_condition_has_a_valid_example() -> None:
    assert set(GOOD) == set(Condition)
    for cond in Condition:
        spec = validate_alert(body(cond.value), now=NOW)
        assert spec.condition is cond


def test_names_are_normalised_case_insensitively() -> None:
    spec = validate_alert(
        {
            "symbol": " eurusd ",
            "timeframe": "h4",
            "condition": "CROSSING_UP",
            "level": 1.09,
            "price_source": "ASK",
            "frequency": "Once_Per_Bar",
        },
        now=NOW,
    )
    assert (spec.symbol, spec.timeframe, spec.condition) == (
        "EURUSD",
        Timeframe.H4,
        Condition.crossing_up,
    )
    assert spec.price_source is PriceSource.ask
    assert spec.frequency is Frequency.once_per_bar


def test_defaults() -> None:
    spec = validate_alert(body(), now=NOW)
    assert spec.price_source is PriceSource.bid
    assert spec.frequency is Frequency.once
    assert spec.expires_at is None and spec.message is None
    assert spec.channels.email is False and spec.channels.webhook_url is None


@pytest.mark.parametrize("cond", ["new_fractal", "line_break", "trendline_break", "line_touch"])
def test_side_defaults_to_either(cond: str) -> None:
    assert validate_alert(body(cond), now=NOW).side is Side.either


def test_unknown_symbol_timeframe_condition_name_their_field() -> None:
    errs = errors({"symbol": "EURGBP", "timeframe": "H3", "condition": "crossing_sideways"})
    assert set(errs) == {("symbol",), ("timeframe",), ("condition",)}
    assert "EURGBP" in errs[("symbol",)] and "H3" in errs[("timeframe",)]


def test_unknown_field_is_refused() -> None:
    assert ("colour",) in errors(body(colour="red"))


@pytest.mark.parametrize("field", ["level"])
@pytest.mark.parametrize(
    ("value", "words"),
    [
        (math.nan, "finite"),
        (math.inf, "finite"),
        (-math.inf, "finite"),
        (-1.0, "greater than 0"),
        (0.0, "greater than 0"),
        (1e9 + 1, "at most"),
        (1e300, "at most"),
    ],
)
def test_bad_levels(field: str, value: float, words: str) -> None:
    errs = errors(body(**{field: value}))
    assert list(errs) == [(field,)]
    assert words in errs[(field,)]


def test_a_level_of_exactly_the_maximum_is_accepted() -> None:
    assert validate_alert(body(level=1e9), now=NOW).level == 1e9


@pytest.mark.parametrize("field", ["lower", "upper"])
@pytest.mark.parametrize("value", [math.nan, -2.0, 0.0, 5e9])
def test_bad_channel_edges(field: str, value: float) -> None:
    data = body("inside_channel", lower=1.0, upper=2.0) | {field: value}
    assert (field,) in errors(data)


@pytest.mark.parametrize(("lower", "upper"), [(1.09, 1.09), (1.10, 1.09)])
def test_channel_lower_must_be_below_upper(lower: float, upper: float) -> None:
    errs = errors(body("entering_channel", lower=lower, upper=upper))
    assert list(errs) == [("lower",)]
    assert "below upper" in errs[("lower",)]


@pytest.mark.parametrize("bars", [0, -1, 501, 10_000])
def test_bars_outside_1_to_500(bars: int) -> None:
    errs = errors(body("moving_up", amount=1.0, bars=bars))
    assert list(errs) == [("bars",)]
    assert "between 1 and 500" in errs[("bars",)]


@pytest.mark.parametrize("bars", [True, 2.5, "3"])
def test_bars_must_be_a_whole_number(bars: Any) -> None:
    assert list(errors(body("moving_up", amount=1.0, bars=bars))) == [("bars",)]


@pytest.mark.parametrize("bars", [1, 500])
def test_bars_edges_are_accepted(bars: int) -> None:
    assert validate_alert(body("moving_down", amount=1.0, bars=bars), now=NOW).bars == bars


@pytest.mark.parametrize("cond", ["moving_up_pct", "moving_down_pct"])
def test_percent_amount_in_0_100(cond: str) -> None:
    assert list(errors(body(cond, amount=100.5, bars=2))) == [("amount",)]
    assert list(errors(body(cond, amount=0.0, bars=2))) == [("amount",)]
    assert validate_alert(body(cond, amount=100.0, bars=2), now=NOW).amount == 100.0


def test_absolute_amount_may_exceed_100() -> None:
    assert validate_alert(body("moving_up", amount=250.0, bars=2), now=NOW).amount == 250.0


@pytest.mark.parametrize("cond", list(Condition))
def test_each_condition_requires_its_values(cond: Condition) -> None:
    required = REQUIRED_VALUES[cond]
    if not required:
        validate_alert({"symbol": "EURUSD", "timeframe": "H1", "condition": cond}, now=NOW)
        return
    errs = errors({"symbol": "EURUSD", "timeframe": "H1", "condition": cond.value})
    assert set(errs) == {(name,) for name in required}
    assert all(f"required by {cond.value}" in m for m in errs.values())


SAMPLE_VALUE: dict[str, Any] = {
    "level": 1.5,
    "lower": 1.0,
    "upper": 2.0,
    "amount": 1.0,
    "bars": 2,
    "side": "either",
    "line_id": "hr-1732456800",
    "distance": 0.001,
    "buffer": 0.001,
    "confirm_bars": 2,
}


@pytest.mark.parametrize("cond", list(Condition))
def test_each_condition_refuses_values_it_does_not_take(cond: Condition) -> None:
    takes = set(REQUIRED_VALUES[cond]) | set(OPTIONAL_VALUES[cond])
    for name in VALUE_FIELDS:
        if name in takes:
            continue
        errs = errors(body(cond.value) | {name: SAMPLE_VALUE[name]})
        assert list(errs) == [(name,)], (cond, name)
        assert f"not used by {cond.value}" in errs[(name,)]


@pytest.mark.parametrize(
    ("cond", "side"),
    [
        ("new_fractal", "support"),
        ("new_fractal", "resistance"),
        ("line_break", "up"),
        ("trendline_break", "down"),
        ("line_touch", "up"),
    ],
)
def test_side_must_fit_the_condition(cond: str, side: str) -> None:
    assert list(errors(body(cond, side=side))) == [("side",)]


def test_side_name_that_does_not_exist() -> None:
    assert list(errors(body("new_fractal", side="sideways"))) == [("side",)]


@pytest.mark.parametrize(
    ("cond", "line_id"),
    [
        ("line_break", "ds-1-2"),  # a trendline id for a horizontal condition
        ("line_break", "hx-100"),
        ("trendline_break", "hr-100"),
        ("line_touch", "nonsense"),
        ("line_touch", "hr-"),
    ],
)
def test_line_id_must_fit_the_condition(cond: str, line_id: str) -> None:
    data = body(cond, line_id=line_id) | ({"distance": 1.0} if cond == "line_touch" else {})
    assert list(errors(data)) == [("line_id",)]


def test_chosen_lines_are_accepted() -> None:
    assert validate_alert(body("line_break", line_id="hs-100"), now=NOW).line_id == "hs-100"
    spec = validate_alert(body("line_touch", distance=1.0, line_id="dr-100-200"), now=NOW)
    assert spec.line_id == "dr-100-200"


def test_side_contradicting_the_chosen_line() -> None:
    errs = errors(body("line_break", line_id="hs-100", side="resistance"))
    assert list(errs) == [("side",)] and "support line" in errs[("side",)]
    ok = validate_alert(body("line_break", line_id="hs-100", side="support"), now=NOW)
    assert ok.side is Side.support


@pytest.mark.parametrize("value", [0.0, -0.1, math.nan, 2e9])
def test_bad_touch_distance(value: float) -> None:
    assert list(errors(body("line_touch", distance=value))) == [("distance",)]


@pytest.mark.parametrize(
    "data",
    [
        body(frequency="once_per_bar_close", price_source="ask"),
        body("new_fractal", price_source="ask"),
        body("line_break", price_source="ask"),
        body("trendline_break", price_source="ask"),
    ],
)
def test_ask_is_refused_where_only_closed_bars_count(data: dict[str, Any]) -> None:
    assert list(errors(data)) == [("price_source",)]


def test_ask_is_fine_on_ticks() -> None:
    spec = validate_alert(body("line_touch", price_source="ask", frequency="once_per_bar"), now=NOW)
    assert spec.price_source is PriceSource.ask


def test_expiry_in_the_future_is_kept_in_utc() -> None:
    later = datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    spec = validate_alert(body(expires_at=later.isoformat()), now=NOW)
    assert spec.expires_at == later and spec.expires_at is not None
    assert spec.expires_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        (NOW - timedelta(seconds=1)).isoformat(),
        NOW.isoformat(),  # "now" is already past
        "2020-01-01T00:00:00Z",
    ],
)
def test_expiry_in_the_past(value: str) -> None:
    errs = errors(body(expires_at=value))
    assert list(errs) == [("expires_at",)] and "in the past" in errs[("expires_at",)]


def test_expiry_without_a_time_zone() -> None:
    errs = errors(body(expires_at="2030-01-01T00:00:00"))
    assert list(errs) == [("expires_at",)] and "time zone" in errs[("expires_at",)]


def test_expiry_without_a_context_uses_the_wall_clock() -> None:
    with pytest.raises(ValidationError) as info:
        AlertCreate.model_validate(body(expires_at="2001-01-01T00:00:00Z"))
    assert info.value.errors()[0]["loc"] == ("expires_at",)
    far = (datetime.now(UTC) + timedelta(days=3650)).isoformat()
    assert AlertCreate.model_validate(body(expires_at=far)).expires_at is not None


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{{symbol}} at {{bid}}", "{{bid}}"),
        ("{{Symbol}}", "{{Symbol}}"),
        ("price {{price}", "not a placeholder"),
        ("{{ price }} and }}", "not a placeholder"),
        ("x" * 501, "at most 500"),
    ],
)
def test_bad_message_templates(template: str, words: str) -> None:
    errs = errors(body(message=template))
    assert list(errs) == [("message",)] and words in errs[("message",)]


def test_every_placeholder_is_allowed() -> None:
    text = "{{symbol}} {{timeframe}} {{price}} {{level}} {{condition}} {{ time }}"
    assert validate_alert(body(message=text), now=NOW).message == text


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "ftp://example.com/hook",
        "example.com/hook",
        "https://",
        "http://10.0.0.1/hook",
        "http://127.0.0.1:9000/hook",  # loopback, but the flag is off
    ],
)
def test_webhook_must_be_https(url: str) -> None:
    errs = errors(body(channels={"webhook_url": url}))
    assert list(errs) == [("channels", "webhook_url")]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9000/hook", "http://localhost/x", "http://[::1]:8080/x"]
)
def test_http_loopback_webhook_when_the_owner_allows_it(url: str) -> None:
    spec = validate_alert(
        body(channels={"webhook_url": url}), now=NOW, allow_insecure_loopback=True
    )
    assert spec.channels.webhook_url == url


def test_the_loopback_flag_does_not_open_other_hosts() -> None:
    data = body(channels={"webhook_url": "http://192.168.1.5/x"})
    assert ("channels", "webhook_url") in errors(data, allow_insecure_loopback=True)


def test_https_webhook_and_email() -> None:
    spec = validate_alert(
        body(channels={"email": True, "webhook_url": "https://hooks.example.com/a?b=1"}), now=NOW
    )
    assert spec.channels.email is True


def test_several_problems_are_reported_together() -> None:
    errs = errors(body(level=-1.0, expires_at="2001-01-01T00:00:00Z", message="{{nope}}"))
    assert set(errs) == {("level",), ("expires_at",), ("message",)}


def test_validate_alert_accepts_a_model() -> None:
    spec = validate_alert(body(), now=NOW)
    assert validate_alert(spec, now=NOW) == spec


# -- update ----------------------------------------------------------------------------------
def test_update_changes_only_what_is_sent() -> None:
    current = validate_alert(body(message="hi {{price}}", frequency="once_per_bar"), now=NOW)
    merged = merge_update(current, AlertUpdate(level=1.1), now=NOW)
    assert merged.level == 1.1 and merged.message == "hi {{price}}"
    assert merged.frequency is Frequency.once_per_bar


def test_update_null_clears_an_optional_value() -> None:
    current = validate_alert(body(message="hi"), now=NOW)
    update = AlertUpdate.model_validate({"message": None})
    assert merge_update(current, update, now=NOW).message is None


def test_update_to_another_condition_drops_values_it_does_not_take() -> None:
    current = validate_alert(body("crossing_up", level=1.09), now=NOW)
    update = AlertUpdate.model_validate(
        {"condition": "entering_channel", "lower": 1.08, "upper": 1.1}
    )
    merged = merge_update(current, update, now=NOW)
    assert (merged.level, merged.lower, merged.upper) == (None, 1.08, 1.1)


def test_update_to_another_condition_without_its_values_names_them() -> None:
    current = validate_alert(body("crossing_up", level=1.09), now=NOW)
    with pytest.raises(ValidationError) as info:
        merge_update(current, AlertUpdate(condition=Condition.inside_channel), now=NOW)
    assert {e["loc"] for e in info.value.errors()} == {("lower",), ("upper",)}


def test_update_checks_each_field() -> None:
    with pytest.raises(ValidationError) as info:
        AlertUpdate.model_validate({"level": math.nan, "bars": 0, "symbol": "nope"})
    assert {e["loc"] for e in info.value.errors()} == {("level",), ("bars",), ("symbol",)}


def test_update_that_breaks_the_channel_names_the_field() -> None:
    current = validate_alert(body("inside_channel", lower=1.0, upper=2.0), now=NOW)
    with pytest.raises(ValidationError) as info:
        merge_update(current, AlertUpdate(lower=3.0), now=NOW)
    assert [e["loc"] for e in info.value.errors()] == [("lower",)]


def test_public_view_keeps_a_past_expiry() -> None:
    spec = validate_alert(body(expires_at="2026-11-25T00:00:00Z", name="n1"), now=NOW)
    public = AlertPublic(
        id=3,
        **spec.model_dump(),
        status=AlertStatus.expired,
        status_reason="expired",
        created_at=NOW,
        fire_count=2,
    )
    again = AlertPublic.model_validate_json(public.model_dump_json())
    assert again.status is AlertStatus.expired and again.timeframe == "H1"


# -- messages --------------------------------------------------------------------------------
def fields(
    cond: str = "crossing_up", price: float = 1.09012, level: float = 1.09
) -> dict[str, str]:
    return message_fields(
        symbol="EURUSD", timeframe="H1", condition=cond, price=price, level=level, time=1.7e9
    )


def test_default_message_for_a_crossing() -> None:
    assert (
        default_message(Condition.crossing_up, fields())
        == "EURUSD H1 crossed up 1.09000 at 1.09012"
    )


@pytest.mark.parametrize("cond", list(Condition))
def test_every_condition_has_a_default_message(cond: Condition) -> None:
    text = default_message(cond, fields(cond.value))
    assert text.startswith("EURUSD H1 ") and "{{" not in text and "  " not in text


@pytest.mark.parametrize("cond", list(Condition))
def test_a_default_sentence_is_the_default_message_of_its_fields(cond: Condition) -> None:
    """The fire's fast path says, and translates, exactly what the fields' path does: the
    same text, msgid and params (prices with thousands separators and no level too); the
    backtest's English alone (``default_english``) is the same text."""
    from tradealerts.core.alerts.messages import default_english, default_sentence

    fires = (
        ("EURUSD", 1.09012, 1.09, ""),
        ("XAUUSD", 2345.678, None, "support"),
        ("USDJPY", 151.2345, 150.0, "up"),
        ("EURUSD", 0.000004, -0.0, _("{size} within {count} bars", size="0.5%", count=3)),
        ("BTCUSD", 65432.1, 1234567.891, "resistance trendline"),
        ("XAUUSD", 2345.6, 2340.0, "odd {detail} {{braces}}"),
        ("EURUSD", 0.0, 1.09, ""),  # 0.0 and -0.0: one dict key, two texts
        ("EURUSD", -0.0, 1.09, ""),
    )
    for symbol in {f[0] for f in fires}:  # one alert's fires at once: its details mixed
        mine = [f for f in fires if f[0] == symbol] * 2
        prices, levels, details = ([f[i] for f in mine] for i in (1, 2, 3))
        expect = [str(default_sentence(cond, symbol, "H4", *f[1:])) for f in mine]
        assert default_english(cond, symbol, "H4", prices, levels, details) == expect
    for symbol, price, level, detail in fires:
        said = default_sentence(cond, symbol, "H4", price, level, detail)
        full = default_message(cond, {**message_fields(
            symbol=symbol, timeframe="H4", condition=cond.value, price=price, level=level,
            time=None, detail=detail,
        )})  # fmt: skip
        assert said == full
        assert (said.msgid, said.params) == (full.msgid, full.params)  # type: ignore[attr-defined]
        assert said.into("de") == full.into("de")  # type: ignore[attr-defined]


def test_render_message_fills_placeholders() -> None:
    text = render_message(
        "{{symbol}}/{{timeframe}} {{condition}} {{level}} -> {{price}} @ {{ time }}", fields()
    )
    assert text == "EURUSD/H1 crossing_up 1.09000 -> 1.09012 @ 2023-11-14T22:13:20Z"


def test_prices_use_the_symbols_digits() -> None:
    f = message_fields(
        symbol="BTCUSD", timeframe="H4", condition="x", price=65432.1, level=None, time=0
    )
    assert (f["price"], f["level"]) == ("65,432.10", "")


def test_template_problem() -> None:
    assert template_problem("{{price}} ok") is None
    assert template_problem("{{detail}}") is not None  # the defaults' own field is not for users


# -- trigger rules ---------------------------------------------------------------------------
H1 = Timeframe.H1
BAR = 1_700_002_800  # an H1 bar open (and a minute start)


def test_once_may_fire_while_active_and_ends_as_triggered() -> None:
    assert may_fire(Frequency.once, H1, None, BAR)
    assert may_fire(Frequency.once, H1, BAR, BAR + 5)  # status, not time, ends it
    assert status_after_fire(Frequency.once) is AlertStatus.triggered
    assert rearm_time(Frequency.once, H1, BAR) is None


@pytest.mark.parametrize("freq", [Frequency.once_per_bar, Frequency.once_per_bar_close])
def test_once_per_bar_windows_are_utc_bars(freq: Frequency) -> None:
    assert may_fire(freq, H1, None, BAR + 10)
    assert not may_fire(freq, H1, BAR, BAR + 3599.999)
    assert may_fire(freq, H1, BAR + 3599.5, BAR + 3600)
    assert not may_fire(freq, H1, BAR + 3600, BAR + 10)  # a clock stepping back
    assert rearm_time(freq, H1, BAR + 1234.5) == BAR + 3600
    assert status_after_fire(freq) is AlertStatus.active


def test_once_per_minute_is_per_calendar_minute() -> None:
    f = Frequency.once_per_minute
    assert not may_fire(f, H1, BAR, BAR + 59.9)
    assert may_fire(f, H1, BAR + 59.9, BAR + 60)  # 0.1 s apart, but a new minute
    assert rearm_time(f, H1, BAR + 59.9) == BAR + 60
    assert window_start(f, H1, BAR + 61.5) == BAR + 60
    assert window_start(Frequency.once, H1, BAR) is None


def test_expiry_instant_is_already_expired() -> None:
    assert not is_expired(None, BAR)
    assert not is_expired(BAR + 1, BAR + 0.999)
    assert is_expired(BAR + 1, BAR + 1)


# -- issue 15: options, names, formats, aliases ------------------------------------------------
def test_break_options_cooldown_max_fires_and_name() -> None:
    spec = validate_alert(
        body("line_break", buffer=0.0005, confirm_bars=2, cooldown="30m", max_fires=5,
             name="eurusd-h1-resistance-break"),
        now=NOW,
    )  # fmt: skip
    assert (spec.buffer, spec.confirm_bars, spec.cooldown, spec.max_fires, spec.name) == (
        0.0005, 2, 1800, 5, "eurusd-h1-resistance-break",
    )  # fmt: skip
    assert validate_alert(body(cooldown=45), now=NOW).cooldown == 45
    assert validate_alert(body("trendline_break", buffer=0.0), now=NOW).buffer == 0.0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"buffer": 0.001}, "buffer"),  # crossing_up does not take a buffer
        ({"confirm_bars": 2}, "confirm_bars"),
        ({"condition": "line_break", "buffer": -0.1}, "buffer"),
        ({"condition": "line_break", "buffer": math.nan}, "buffer"),
        ({"condition": "line_break", "confirm_bars": 0}, "confirm_bars"),
        ({"condition": "line_break", "confirm_bars": 51}, "confirm_bars"),
        ({"condition": "line_break", "confirm_bars": 1.5}, "confirm_bars"),
        ({"cooldown": 0}, "cooldown"),
        ({"cooldown": "31d"}, "cooldown"),
        ({"cooldown": "soon"}, "cooldown"),
        ({"max_fires": 0}, "max_fires"),
        ({"max_fires": "5"}, "max_fires"),
        ({"name": ""}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": "-leading"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"condition": "line_bounce", "distance": None}, "distance"),
        ({"condition": "line_bounce", "side": "up"}, "side"),
        ({"condition": "line_bounce", "line_id": "ds-1-2", "side": "resistance"}, "side"),
    ],
)
def test_bad_options_name_their_field(values: dict[str, Any], field: str) -> None:
    data = body(values.pop("condition", "crossing_up"), **values)
    assert (field,) in errors({k: v for k, v in data.items() if v is not None})


def test_a_cooldown_out_of_range_is_told_in_the_units_people_write() -> None:
    # "--cooldown 31d" answered "between 1 and 2,592,000, got 2678400": seconds nobody typed
    msg = errors(body(cooldown="31d"))[("cooldown",)]
    assert "30 days" in msg and "31 days" in msg, msg
    assert "1 second" in errors(body(cooldown=0))[("cooldown",)]


def test_telegram_needs_a_chat_id_in_the_url() -> None:
    hook = {
        "webhook_url": "https://api.telegram.org/botX/sendMessage",
        "webhook_format": "telegram",
    }
    assert ("channels", "webhook_url") in errors(body(channels=hook))
    hook["webhook_url"] += "?chat_id=42"
    assert validate_alert(body(channels=hook), now=NOW).channels.webhook_format == "telegram"
    assert ("channels", "webhook_format") in errors(
        body(channels={"webhook_url": "https://x.example/h", "webhook_format": "teams"})
    )


def test_tradingview_placeholders_are_aliases() -> None:
    template = "{{ticker}} {{interval}} broke {{level}} at {{close}} ({{timenow}} = {{time}})"
    assert template_problem(template) is None
    fields = message_fields(
        symbol="EURUSD", timeframe="H1", condition="line_break", price=1.0912, level=1.09,
        time=1_764_000_000,
    )  # fmt: skip
    assert render_message(template, fields) == (
        "EURUSD H1 broke 1.09000 at 1.09120 (2025-11-24T16:00:00Z = 2025-11-24T16:00:00Z)"
    )
    assert "{{bogus}}" in (template_problem("{{bogus}}") or "") or "bogus" in (
        template_problem("{{bogus}}") or ""
    )


def test_durations_and_health_flags() -> None:
    from tradealerts.core.alerts import format_duration, health_flags, parse_duration

    assert [parse_duration(v) for v in ("45", "45s", "30m", "2h", "1d", "1w", 90)] == [
        45, 45, 1800, 7200, 86400, 604800, 90,
    ]  # fmt: skip
    assert [format_duration(v) for v in (1800, 90, 86400, 7)] == ["30m", "90s", "1d", "7s"]
    old = NOW - timedelta(days=40)
    assert health_flags(0, None, old, NOW) == (True, False)
    assert health_flags(0, None, NOW - timedelta(days=2), NOW) == (False, False)  # too new
    assert health_flags(11, NOW, old, NOW) == (False, True)
    assert health_flags(10, NOW - timedelta(days=29), old, NOW) == (False, False)
