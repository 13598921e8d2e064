"""POST /api/ingest/indicators: the owner token, every check with its own refusal, nothing
stored on a refusal, idempotent writes, and one wire schema for docs, stand-in and endpoint."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.server.bridgekit import batch
from tests.server.serverkit import Running, register_and_login
from typer.testing import CliRunner

from tradealerts.core.ingest import EMPTY_VALUE, INGEST_EXAMPLE, IngestBatch, ingest_json_schema
from tradealerts.server.cli import app as server_cli
from tradealerts.server.db.models import IndicatorValues, IngestToken

DOCS = Path(__file__).parent.parent.parent / "docs"
T0 = 1731657600  # 2024-11-15 08:00 UTC, an H1 bar


def token_for(srv: Running) -> str:
    env = {"TRADEALERTS_HOME": str(srv.settings.data_dir),
           "TRADEALERTS_DATABASE_URL": srv.settings.db_url}  # fmt: skip
    result = CliRunner().invoke(server_cli, ["ingest-token", "create", "--name", "t"], env=env)
    assert result.exit_code == 0, result.output
    return str(result.stdout.strip().splitlines()[0])


def stored(srv: Running) -> int:
    with srv.app.state.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(IndicatorValues)) or 0)


def post(srv: Running, token: str | None, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, bytes | str):
        headers["Content-Type"] = "application/json"
        return httpx.post(
            f"{srv.url}/api/ingest/indicators", content=body, headers=headers, timeout=30
        )
    return httpx.post(f"{srv.url}/api/ingest/indicators", json=body, headers=headers, timeout=30)


def good(**change: Any) -> dict[str, Any]:
    body = batch("EURUSD", "H1", [T0, T0 + 3600], [[1.06, EMPTY_VALUE], [EMPTY_VALUE, 1.05]],
                 [0, 1])  # fmt: skip
    body.update(change)
    return body


def refused(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    assert err["message"]
    if status == 422:  # api.md "Errors": `field` (the first bad one) and `fields` (all)
        assert isinstance(err.get("field"), str) and err.get("fields"), err
        assert all({"field", "message"} <= set(f) for f in err["fields"]), err
    return str(err["message"])


def test_each_bad_input_is_refused_with_its_reason_and_nothing_is_stored(
    make_server: Callable[..., Running],
) -> None:
    srv = make_server()
    token = token_for(srv)
    with srv.app.state.sessions() as s:
        row = s.scalars(select(IngestToken)).one()
        assert (
            row.token_hash.startswith("$argon2id$") and token.split("_", 2)[2] not in row.token_hash
        )
    subscriber = register_and_login(srv, "sub@example.com")["access_token"]

    refused(post(srv, None, good()), 401, "invalid_ingest_token")
    refused(post(srv, token[:-2] + "xx", good()), 401, "invalid_ingest_token")
    assert "subscriber" in refused(post(srv, subscriber, good()), 401, "invalid_ingest_token")
    refused(post(srv, token, good(symbol="NOPE")), 422, "unknown_symbol")
    refused(post(srv, token, good(timeframe="H3")), 422, "unknown_timeframe")
    off = good()
    off["bars"][1]["time"] = T0 + 3601  # the first bar is fine: the batch is refused whole
    assert "H1" in refused(post(srv, token, off), 422, "off_grid_time")
    future = good()
    future["bars"][1]["time"] = T0 + 3600 * 24 * 365 * 10
    refused(post(srv, token, future), 422, "future_bar_time")
    nan = json.dumps(good()).replace("1.05]", "NaN]")
    assert "NaN" in nan
    refused(post(srv, token, nan), 422, "not_a_number")
    refused(post(srv, token, json.dumps(good()).replace("1.05]", "1e999]")), 422, "not_a_number")
    refused(post(srv, token, b"{not json"), 400, "malformed_json")
    refused(post(srv, token, good(extra=1)), 422, "invalid_payload")
    # a value of the wrong type is not a price: true is not 1.0, "1.05" not 1.05
    for wrong in (True, "1.05"):
        typed = good()
        typed["bars"][0]["values"][0] = wrong
        refused(post(srv, token, typed), 422, "invalid_payload")
    typed = good()
    typed["bars"][0]["time"] = str(T0)
    refused(post(srv, token, typed), 422, "invalid_payload")
    assert post(srv, token, typed).json()["error"]["field"] == "bars.0.time"
    refused(post(srv, token, good(buffers=[True, 1])), 422, "invalid_payload")
    short = good()
    short["bars"][0]["values"] = [1.06]
    refused(post(srv, token, short), 422, "buffer_count_mismatch")
    twice = good()
    twice["bars"][1]["time"] = T0
    refused(post(srv, token, twice), 422, "duplicate_bar_time")
    huge = b'{"symbol": "EURUSD", "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    # the EA's settings that make a body this big, not a 5000-bar advice (32 buffers pass 2 MiB
    # well below 5000 bars)
    assert "InpHistoryBars" in refused(post(srv, token, huge), 413, "body_too_large")
    # a body over the limit sent without a length (chunked) is cut off as it is read
    chunks = (b"x" * 65536 for _ in range(40))
    r = httpx.post(f"{srv.url}/api/ingest/indicators", content=chunks, timeout=30,
                   headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    refused(r, 413, "body_too_large")
    assert stored(srv) == 0

    r = post(srv, token, good())
    assert r.status_code == 200, r.text
    assert r.json() == {"symbol": "EURUSD", "timeframe": "H1", "stored": 2, "unchanged": 0}
    assert stored(srv) == 2


def test_a_buffer_map_needing_a_buffer_the_batch_lacks_is_refused(
    make_server: Callable[..., Running],
) -> None:
    srv = make_server(buffer_map={"up_fractal": 0, "down_fractal": 1, "resistance_levels": [2]})
    token = token_for(srv)
    message = refused(post(srv, token, good()), 422, "missing_buffer")
    assert "2" in message
    assert stored(srv) == 0
    three = batch("EURUSD", "H1", [T0], [[1.06, EMPTY_VALUE, 1.07]], [0, 1, 2])
    assert post(srv, token, three).status_code == 200
    assert stored(srv) == 1


def test_writes_are_idempotent_by_symbol_timeframe_and_bar_time(
    make_server: Callable[..., Running],
) -> None:
    srv = make_server()
    token = token_for(srv)
    assert post(srv, token, good()).json()["stored"] == 2
    again = post(srv, token, good()).json()
    assert (again["stored"], again["unchanged"]) == (0, 2)
    repaint = good()
    repaint["bars"][0]["values"] = [EMPTY_VALUE, EMPTY_VALUE]  # the indicator redrew bar 0
    assert post(srv, token, repaint).json()["stored"] == 1
    assert stored(srv) == 2
    with srv.app.state.sessions() as s:
        first = s.scalars(select(IndicatorValues).where(IndicatorValues.time == T0)).one()
        assert first.values == {"0": None, "1": None}
    # the broker's symbol name (the feed's symbol map) is the same series
    srv2 = make_server(symbol_map={"EURUSD": "EURUSD.a"})
    t2 = token_for(srv2)
    assert post(srv2, t2, good(symbol="EURUSD.a")).json()["symbol"] == "EURUSD"


def _doc_example() -> Any:
    text = (DOCS / "api.md").read_text()
    match = re.search(r"<!-- ingest-example -->\s*```json\n(.*?)```", text, re.S)
    assert match, "docs/api.md lost the ingest example"
    return json.loads(match.group(1))


def test_the_documented_wire_format_is_what_the_stand_in_sends_and_the_endpoint_takes(
    make_server: Callable[..., Running],
) -> None:
    doc = _doc_example()
    ex = INGEST_EXAMPLE
    sent = batch(ex["symbol"], ex["timeframe"], [b["time"] for b in ex["bars"]],
                 [b["values"] for b in ex["bars"]], ex["buffers"])  # fmt: skip
    sent["indicator"] = ex["indicator"]
    assert doc == ex == sent
    assert IngestBatch.model_validate(doc).model_dump(mode="json") == doc
    srv = make_server()
    r = post(srv, token_for(srv), doc)
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == len(doc["bars"])
    schema = httpx.get(f"{srv.url}/api/openapi.json", timeout=30).json()
    op = schema["paths"]["/api/ingest/indicators"]["post"]
    body = op["requestBody"]["content"]["application/json"]
    assert body["example"] == doc
    assert body["schema"] == ingest_json_schema()
    assert "$ref" not in json.dumps(body["schema"])
    assert body["schema"]["properties"]["bars"]["items"]["properties"]["values"]["maxItems"] == 32


@pytest.mark.parametrize(
    "spec",
    ["mt5,EURUSD", "EURUSD=mt5,computed", "computed,EURXXX=mt5", "computed,EURUSD:H3=mt5", "x"],
)
def test_a_bad_lines_source_is_refused_at_start(spec: str) -> None:
    result = CliRunner().invoke(server_cli, ["serve", "--lines-source", spec])
    assert result.exit_code == 1
    assert "lines_source" in result.output


def test_the_buffer_map_is_read_from_json_or_a_file(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from tradealerts.server.settings import Settings

    path = tmp_path / "map.json"
    path.write_text('{"up_fractal": 4, "down_fractal": 5, "support_levels": [6]}')
    assert Settings(buffer_map=str(path)).buffer_map.buffers() == [4, 5, 6]
    assert Settings(buffer_map='{"up_fractal": 2, "down_fractal": null}').buffer_map.buffers() == [
        2
    ]
    for bad in (str(tmp_path / "nope.json"), '{"up_fractal": 0, "down_fractal": 0}', '{"x": 1}'):
        with pytest.raises(ValidationError):
            Settings(buffer_map=bad)
    result = CliRunner().invoke(server_cli, ["serve", "--buffer-map", str(tmp_path / "nope.json")])
    assert result.exit_code == 1 and "buffer_map" in result.output


def test_the_owner_guides_buffer_maps_are_valid_maps() -> None:
    from tradealerts.core.ingest import BufferMap

    guide = (DOCS / "owner-guide.md").read_text()
    maps = re.findall(r"`(\{\"(?:up_fractal|resistance_anchors)[^`]*\})`", guide)
    assert len(maps) >= 3
    for text in maps:
        BufferMap.model_validate_json(text)


def test_the_owner_lists_and_revokes_bridge_tokens(make_server: Callable[..., Running]) -> None:
    srv = make_server()
    env = {"TRADEALERTS_HOME": str(srv.settings.data_dir),
           "TRADEALERTS_DATABASE_URL": srv.settings.db_url}  # fmt: skip
    used, spare = token_for(srv), token_for(srv)
    assert post(srv, used, good()).status_code == 200
    listed = CliRunner().invoke(server_cli, ["ingest-token", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = {r["key_id"]: r for r in json.loads(listed.stdout)}
    key = {t: t[4:].partition("_")[0] for t in (used, spare)}
    assert set(rows) == set(key.values())
    assert rows[key[used]]["last_used_at"] and rows[key[spare]]["last_used_at"] is None
    assert not any(t.split("_", 2)[2] in listed.stdout for t in (used, spare))  # no secret
    table = CliRunner().invoke(server_cli, ["ingest-token", "list"], env=env)
    assert key[spare] in table.stdout and "never" in table.stdout

    gone = CliRunner().invoke(server_cli, ["ingest-token", "revoke", key[spare]], env=env)
    assert gone.exit_code == 0, gone.output
    refused(post(srv, spare, good()), 401, "invalid_ingest_token")
    assert post(srv, used, good()).status_code == 200  # the other token still works
    # a token the server accepted a moment ago is refused on its next post
    revoked = CliRunner().invoke(server_cli, ["ingest-token", "revoke", used], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in refused(post(srv, used, good()), 401, "invalid_ingest_token")
    unknown = CliRunner().invoke(server_cli, ["ingest-token", "revoke", key[spare]], env=env)
    assert unknown.exit_code == 1 and "ingest-token list" in unknown.output
    assert "Traceback" not in unknown.output
