"""The engine: the feed, the market state and the indicators kept current on every event."""

from tradealerts.server.engine.market import MarketState, NoMarketData, SeriesState
from tradealerts.server.engine.runner import Engine

__all__ = ["Engine", "MarketState", "NoMarketData", "SeriesState"]
