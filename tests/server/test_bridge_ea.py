"""The bridge EA cannot be compiled here: hold its source to the wire format, to its stand-in
(tests/server/bridgekit.py, which runs its logic against a real server) and to the review of
issue #23, item by item (docs/owner-guide.md has the table; each row names its test)."""

from __future__ import annotations

import re
from dataclasses import fields
from importlib import resources
from pathlib import Path

import pytest
from tests.server import bridgekit
from tests.server.bridgekit import EA, Inputs

from tradealerts.core.ingest import IngestBar, IngestBatch

GUIDE = Path(__file__).parent.parent.parent / "docs" / "owner-guide.md"


def _source() -> str:
    return resources.files("tradealerts").joinpath("mql5/TradeAlertsBridge.mq5").read_text()


def _function(name: str) -> str:
    """One function's body (from its signature to the closing brace at column 3)."""
    src = _source()
    match = re.search(rf"^\w+\s+{name}\(.*?^  }}$", src, re.S | re.M)
    assert match, f"the EA has no function {name}"
    return match.group(0)


def test_the_ea_ships_with_the_package_and_writes_the_wire_formats_fields() -> None:
    src = _source()
    assert '"/api/ingest/indicators"' in src
    assert "Authorization: Bearer " in src
    # every JSON key the EA writes (as \"key\": in MQL5 strings) is a field of the schema
    keys = set(re.findall(r'\\"(\w+)\\":', _function("Body")))
    assert keys == set(IngestBatch.model_fields) | set(IngestBar.model_fields)


def test_the_eas_constants_and_inputs_are_the_stand_ins() -> None:
    src = _source()
    defines = dict(re.findall(r"^#define\s+(\w+)\s+(\S+)", src, re.M))
    assert defines, "the EA lost its #defines"
    for name, text in defines.items():
        assert float(text) == getattr(bridgekit, name), name
    inputs = dict(re.findall(r"^input\s+\w+\s+Inp(\w+)\s*=\s*(.+?);", src, re.M))
    snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower().replace("k_bps", "kbps"): v
             for k, v in inputs.items()}  # fmt: skip
    defaults = {f.name: f.default for f in fields(Inputs)}
    assert snake.keys() - {"server_url", "token"} <= defaults.keys()
    for name, text in snake.items():
        if name in ("server_url", "token"):
            continue
        want = defaults[name]
        got = int(text) if isinstance(want, int) else text.strip('"').replace("\\\\", "\\")
        assert got == want, name


def test_every_function_of_the_ea_has_its_stand_in() -> None:
    """The stand-in is the EA's logic line for line: a function added to the EA without its
    counterpart in bridgekit fails here."""
    names = re.findall(r"^(?:\w+)\s+(\w+)\(", _source(), re.M)
    plumbing = {"OnInit", "OnDeinit", "OnTimer", "AddSeries", "MakeIndicator", "TfIndex",
                "DayStart", "ParseBuffers", "WebRequestError"}  # fmt: skip
    missing = []
    for name in names:
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        snake = {"send_batch": "send_batch", "retry_after_ms": "retry_after_ms"}.get(snake, snake)
        if name in plumbing:
            snake = {"OnInit": "on_init", "OnTimer": "on_timer", "ParseBuffers": "parse_buffers",
                     "WebRequestError": "web_request_error"}.get(name, "")  # fmt: skip
            if not snake:
                continue
        if not hasattr(EA, snake) and not hasattr(bridgekit, snake):
            missing.append(name)
    assert missing == []


# Each review item of issue #23 and the lines of the EA that answer it.
TIMEOUT = r"InpTimeoutMs \+ \(long\)size \* 1000 / \(\(long\)InpUplinkKBps \* 1024\)"
SYNCED = r"SeriesInfoInteger\(x\.symbol, x\.period, SERIES_SYNCHRONIZED\)"
BY_TIME = r"CopyBuffer\(x\.handle, g_buffers\[b\], first, last, col\) != n"
SKIP = r"skipped: the terminal has no such symbol[^\n]*continue; }"
REVIEW = {
    "state reset in OnInit": ("OnInit", [r"\A\s*\{\s*ResetState\(\);"]),
    "permanent refusals once": ("SendBatch", [r"x\.refused = true;", r"Not sent again"]),
    "413 split": ("SendBatch", [r"status == 413 && n > 1", r"x\.chunk = MathMax\(1, n / 2\)"]),
    "timeout scaled": ("SendBatch", [TIMEOUT]),
    "synchronised first": ("Plan", [SYNCED, r"BarsCalculated"]),
    "history in batches": ("SendBatch", [r"n = MathMin\(n, x\.chunk\);"]),
    "one consistent read": ("ReadRange", [BY_TIME]),
    "offset per bar": ("Body", [r"BrokerToUtc\(times\[j\]\)"]),
    "per-symbol isolation": ("OnInit", [SKIP]),
    "strict empties": ("Number", [r"!MathIsValidNumber\(v\) \|\| MathAbs\(v\) > HUGE_VALUE"]),
    "JSON escaping": ("Body", [r"JsonEscape\(x\.symbol\)", r"JsonEscape\(InpIndicator\)"]),
    "GetTickCount64 back-off": ("Retry", [r"x\.next_try = GetTickCount64\(\) \+ x\.delay"]),
    "WebRequest errors explained": (
        "WebRequestError",
        [rf"case {c}:" for c in (4014, 5200, 5201, 5202, 5203)],
    ),
}


@pytest.mark.parametrize("item", REVIEW)
def test_the_ea_answers_the_review_item(item: str) -> None:
    function, patterns = REVIEW[item]
    body = _function(function)
    body = body[body.index("\n") + 1 :] if function == "OnInit" else body
    for pattern in patterns:
        assert re.search(pattern, body, re.M), f"{item}: {pattern} not in {function}"


def test_the_review_table_in_the_guide_names_tests_that_exist() -> None:
    """docs/owner-guide.md's table "EA review item -> where handled": every fault the review
    found has a row, and every row names tests of this module or of test_ea_standin.py."""
    text = GUIDE.read_text()
    start = text.index("| EA review item")
    rows = [r for r in text[start:].split("\n\n", 1)[0].splitlines()[2:] if r.startswith("|")]
    here = Path(__file__).parent
    tests = (here / "test_bridge_ea.py").read_text() + (here / "test_ea_standin.py").read_text()
    faults = ("series[]", "413", "422", "3 s timeout", "one UTC offset", "SERIES_SYNCHRONIZED",
              "never in batches", "separate calls", "missing symbol", "-EMPTY_VALUE", "1e300",
              "JSON-escaped", "TimeLocal", "5200")  # fmt: skip
    for fault in faults:
        assert any(fault in r.split("|")[1] for r in rows), fault
    for row in rows:
        named = re.findall(r"`(test_\w+)`", row)
        assert named, row
        for name in named:
            assert f"def {name}(" in tests, name


def test_the_ea_keeps_no_old_fault() -> None:
    src = _source()
    assert "TimeLocal" not in src  # the back-off moved with the PC's clock
    assert "UtcOffsetSeconds" not in src  # one offset for all history
    assert "1.7976931348623157e308" not in src  # EMPTY_VALUE is sent as null
    assert "CopyTime(x.symbol, x.period, 1, count" not in src  # reads by position
