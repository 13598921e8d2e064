"""The chart in the user's language (issue #27): its title, the lines' tags, the legend and
the last price's label are translated, the numbers (prices, the time axis) stay as the axes
write them; Japanese's wide characters keep every row of the chart at its width; a live chart
whose language changes between two frames draws its legend again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from rich.cells import cell_len

from tradealerts.client.chart import ChartOptions, LiveChart, render
from tradealerts.client.lang import use_language

N, T0 = 60, 1_767_225_600


@pytest.fixture(autouse=True)
def _english_again() -> Iterator[None]:
    yield
    use_language("en")  # the process's language: the next test's is its own


def _payload(bars: int = N) -> dict[str, Any]:
    closes = [1.0800 + 0.0010 * ((i % 10) - 5) / 5 for i in range(bars)]
    times = [T0 + 3600 * i for i in range(bars)]
    return {
        "symbol": "EURUSD",
        "timeframe": "H1",
        "bars": {
            "time": times,
            "open": closes,
            "high": [c + 0.0004 for c in closes],
            "low": [c - 0.0004 for c in closes],
            "close": closes,
        },
        "forming": {"time": T0 + 3600 * bars, "open": 1.0801, "high": 1.0803, "low": 1.0799,
                    "close": 1.0802} if bars else None,
        "fractals": {"up": [], "down": []},
        "horizontal_lines": [{"kind": "resistance", "price": 1.0809, "broken_time": None}],
        "diagonal_lines": [{"kind": "support", "t1": times[0] if bars else 0,
                            "slope_per_bar": 0.0, "value_now": 1.0794, "broken_time": None}],
    }  # fmt: skip


def test_the_chart_speaks_german_and_keeps_its_numbers() -> None:
    use_language("de")
    out = render(_payload(), ChartOptions(width=100, height=24, colour=False))
    rows = out.split("\n")
    title, legend = rows[0], rows[-1]  # a legend this short takes one row
    assert "EURUSD H1 · 61 Kerzen · Spanne 1.07860–1.08120 · zuletzt 1.08020" in title, title
    assert "W 1.08090" in out.replace("\u00a0", " ")  # the resistance on the canvas
    assert "zuletzt 1.08020" in "\n".join(rows[1:-1])  # the last price's label
    assert legend == "Linien: W 1.08090  TU 1.07940", legend
    assert re.search(r"^1\.08120┤", out, flags=re.MULTILINE)  # the price axis: as it was
    for english in ("bars", "range", "last", "Lines:"):
        assert english not in out, english


def test_japanese_keeps_every_row_at_the_charts_width() -> None:
    for language in ("en", "ja"):
        use_language(language)
        out = render(_payload(), ChartOptions(width=80, height=24, colour=False))
        rows = out.split("\n")
        for row in rows[:-1]:  # the title, the frame, the labels on the canvas, the time axis
            assert cell_len(row) == 80, (language, row)
    assert "終値 1.08020" in rows[0] and "本" in rows[0], rows[0]
    assert any("終値 1.08020" in row for row in rows[1:-1])  # on the canvas too
    assert rows[-1] == "ライン: R 1.08090  TS 1.07940", rows[-1]


def test_hidden_lines_and_a_chart_without_bars_in_french() -> None:
    use_language("fr")
    hidden = render(_payload(), ChartOptions(width=80, height=24, lines=False, lines_hint="l"))
    assert hidden.split("\n")[-1] == "Lignes : masquées (l)"
    empty = render(_payload(0), ChartOptions(width=80, height=24, colour=False))
    assert "EURUSD H1 : pas encore de barres" in empty


def test_a_live_chart_draws_its_legend_again_in_the_new_language() -> None:
    chart, opts, payload = LiveChart(), ChartOptions(width=80, height=24, colour=False), _payload()
    english = chart.render(payload, opts)
    use_language("es")
    spanish = chart.render(payload, opts)
    assert "Lines: R 1.08090" in english and "Líneas: R 1.08090" in spanish
    assert "último 1.08020" in spanish.split("\n")[0]
    assert chart.static_draws == 2  # the closed part (and its legend) drawn again
