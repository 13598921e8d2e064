"""The bridge EA cannot be compiled here: hold its source to the wire schema it writes."""

from __future__ import annotations

import re
from importlib import resources

from tradealerts.core.ingest import EMPTY_VALUE, MAX_BARS, IngestBar, IngestBatch


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
