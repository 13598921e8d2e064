"""The bridge EA cannot be compiled here: hold its source to the wire schema it writes."""

from __future__ import annotations

import re
from importlib import resources

from tradealerts.core.ingest import EMPTY_VALUE, MAX_BARS, MAX_BODY_BYTES, IngestBar, IngestBatch


def _source() -> str:
    return resources.files("tradealerts").joinpath("mql5/TradeAlertsBridge.mq5").read_text()


def test_the_ea_ships_with_the_package_and_writes_the_schemas_fields() -> None:
    src = _source()
    assert '"/api/ingest/indicators"' in src
    assert "Authorization: Bearer " in src
    # every JSON key the EA writes (as \"key\": in MQL5 strings) is a field of the schema
    keys = set(re.findall(r'\\"(\w+)\\":', src))
    assert keys == set(IngestBatch.model_fields) | set(IngestBar.model_fields)
    # its EMPTY_VALUE literal is the schema's
    literal = re.search(r'return "(1\.79\d+e308)";', src)
    assert literal and float(literal.group(1)) == EMPTY_VALUE
    assert f"MathMin(count, {MAX_BARS})" in src
    assert "WebRequest(" in src and "EventSetTimer(1)" in src


def test_the_ea_sends_what_it_has_within_the_endpoints_limits() -> None:
    src = _source()
    # a request's bars are capped by its buffers so that the body stays under the limit: a
    # bar is at most 32 bytes + 24 per buffer (EMPTY_VALUE's 22 digits and a comma)
    cap = re.search(r"count = MathMin\(count, (\d+) / \((\d+) \+ (\d+) \* ArraySize", src)
    assert cap, "the EA does not cap a request by its size"
    budget, per_bar, per_value = (int(g) for g in cap.groups())
    empty = "1.7976931348623157e308"
    bar = '{"time":1731661200,"values":[' + ",".join([empty] * 32) + "]},"
    assert budget <= MAX_BODY_BYTES - 512 and len(bar) <= per_bar + 32 * per_value
    # and by the bars the chart and the indicator hold: asking for more failed every retry
    assert "BarsCalculated(x.handle) < count + 1" not in src
    assert re.search(r"MathMin\(BarsCalculated\(x\.handle\), Bars\(x\.symbol, x\.period\)\)", src)
    assert "count = MathMin(count, have);" in src
