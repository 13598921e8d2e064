"""POST /api/ingest/indicators on a broker's bar clock: H4/D1 bars that open on the broker's
grid are taken, off-grid times are refused with the grid the server expected, and a bad
bar-clock setting is refused at start with what is accepted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from tests.server.bridgekit import batch
from tests.server.serverkit import Running
from tests.server.test_ingest import post, refused, token_for
from typer.testing import CliRunner

from tradealerts.core.ingest import EMPTY_VALUE
from tradealerts.server.cli import app as server_cli
from tradealerts.server.settings import Settings

H = 3600


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def body(tf: str, times: list[int]) -> dict[str, object]:
    return batch("EURUSD", tf, times, [[1.06, EMPTY_VALUE] for _ in times], [0, 1])


# (bar clock, H4 opens on its grid, the D1 opens, an H4 time on the UTC grid only)
CASES = {
    "ny-close": (
        "America/New_York@17:00",
        # winter: 22, 02, 06 UTC; summer: 21, 01 UTC
        [utc("2024-11-14T22:00"), utc("2024-11-15T02:00"), utc("2024-11-15T06:00")],
        [utc("2024-11-13T22:00"), utc("2024-11-14T22:00"), utc("2024-07-15T21:00")],
        utc("2024-11-15T04:00"),
        "H4 bars open every 4 h from 00:00 on the bar clock America/New_York@17:00 (the bar "
        "holding it opened at 02:00 UTC)",
    ),
    "fixed": (
        "UTC+2",
        [utc("2024-11-14T22:00"), utc("2024-11-15T02:00")],
        [utc("2024-11-13T22:00"), utc("2024-07-15T22:00")],
        utc("2024-11-15T00:00"),
        "H4 bars open every 4 h from 00:00 on the bar clock UTC+2 (the bar holding it opened "
        "at 22:00 UTC)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_h4_and_d1_on_the_brokers_grid_are_taken_and_off_grid_names_the_grid(
    case: str, make_server: Callable[..., Running]
) -> None:
    clock, h4, d1, utc_only, grid = CASES[case]
    srv = make_server(bar_clock=clock)
    token = token_for(srv)
    r = post(srv, token, body("H4", h4))
    assert r.status_code == 200, r.text
    r = post(srv, token, body("D1", d1))
    assert r.status_code == 200, r.text
    message = refused(post(srv, token, body("H4", [*h4, utc_only])), 422, "off_grid_time")
    assert grid in message, message
    # a D1 bar at 00:00 UTC is not the broker's day
    message = refused(post(srv, token, body("D1", [utc("2024-11-15T00:00")])), 422, "off_grid_time")
    assert "D1 bars open every 1 day from 00:00 on the bar clock" in message
    # the UTC grid's own hours stay fine below H2
    assert post(srv, token, body("H1", [utc("2024-11-15T03:00")])).status_code == 200


def test_on_the_default_utc_clock_a_brokers_h4_is_refused_with_the_utc_grid(
    make_server: Callable[..., Running],
) -> None:
    srv = make_server()
    message = refused(
        post(srv, token_for(srv), body("H4", [utc("2024-11-14T22:00")])), 422, "off_grid_time"
    )
    assert "H4 bars open every 4 h from 00:00 UTC" in message


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"bar_clock": "UTC+25"}, "TRADEALERTS_BAR_CLOCK: bar clock 'UTC+25' is not valid"),
        ({"bar_clock": "Nowhere/City@17:00"}, "'Nowhere/City' is none"),
        ({"bar_clock": "auto"}, "auto needs the MT5 feed"),
        ({"replay_tz": "UTC+2:75"}, "TRADEALERTS_REPLAY_TZ: bar clock 'UTC+2:75' is not valid"),
    ],
)
def test_a_bad_clock_setting_is_refused_with_what_is_accepted(
    overrides: dict[str, str], says: str
) -> None:
    with pytest.raises(ValueError, match="America/New_York@17:00") as err:
        Settings(feed="synthetic", **overrides)  # type: ignore[arg-type]
    assert says in str(err.value)
    flag = next(iter(overrides)).replace("_", "-")
    result = CliRunner().invoke(
        server_cli, ["serve", f"--{flag}", next(iter(overrides.values()))], env={}
    )
    assert result.exit_code != 0
    assert says in result.output and "Traceback" not in result.output


def test_clock_settings_parse() -> None:
    s = Settings(feed="replay:x.csv", bar_clock="America/New_York@17:00", replay_tz="bar_clock")
    assert s.clock is not None and s.clock.name == "America/New_York@17:00"
    assert s.replay_clock == s.clock
    assert Settings(feed="mt5").clock is None  # auto: the terminal decides
    assert Settings(feed="synthetic").clock is not None
    assert Settings(feed="synthetic", replay_tz="UTC+3").replay_clock is not None
