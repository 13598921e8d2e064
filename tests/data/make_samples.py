"""How the sample replay files were first made, from the seeded synthetic feed of that time.

Kept for the record: the synthetic feed has changed since (mean reversion, volume), so running
this now writes different prices. The committed CSVs are the fixtures the tests rely on; do not
regenerate them without updating the tests that quote their values.

eurusd_h1.csv: 1,200 H1 bars, plain CSV with ISO times, weekends removed like a real market.
XAUUSD_H4_mt5.csv: 60 H4 bars in MetaTrader 5's tab-separated export format.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds import FeedOptions, create_feed

HERE = Path(__file__).parent


async def main() -> None:
    feed = create_feed(
        "synthetic", FeedOptions(seed=2024, start_time=1_733_011_200, history_bars=2000)
    )
    await feed.start()
    h1 = await feed.bars("EURUSD", Timeframe.H1, 2000)
    rows = ["time,open,high,low,close,volume"]
    for i in range(len(h1)):
        dt = datetime.fromtimestamp(int(h1.time[i]), UTC)
        if dt.weekday() >= 5:
            continue
        rows.append(
            f"{dt:%Y-%m-%dT%H:%M:%SZ},{h1.open[i]:.5f},{h1.high[i]:.5f},{h1.low[i]:.5f},"
            f"{h1.close[i]:.5f},{int(h1.volume[i])}"
        )
    (HERE / "eurusd_h1.csv").write_text("\n".join(rows[:1201]) + "\n")
    h4 = await feed.bars("XAUUSD", Timeframe.H4, 60)
    mt5 = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"]
    for i in range(len(h4)):
        dt = datetime.fromtimestamp(int(h4.time[i]), UTC)
        mt5.append(
            f"{dt:%Y.%m.%d}\t{dt:%H:%M:%S}\t{h4.open[i]:.2f}\t{h4.high[i]:.2f}\t"
            f"{h4.low[i]:.2f}\t{h4.close[i]:.2f}\t{int(h4.volume[i])}\t0\t25"
        )
    (HERE / "XAUUSD_H4_mt5.csv").write_text("\n".join(mt5) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
