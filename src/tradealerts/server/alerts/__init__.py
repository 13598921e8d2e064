"""The alert engine: one matcher per symbol, fed by the engine's ticks and closed bars.

Conditions, frequencies and the wire schemas are in ``tradealerts.core.alerts``; this
package applies them. Wire it with ``engine.listeners.append(book.listener(engine.market,
sink))``; see ``docs/alerts-semantics.md`` for the exact firing rules.
"""

from tradealerts.server.alerts.book import AlertBook, Sink
from tradealerts.server.alerts.lines import LineRef, active_lines, find_line
from tradealerts.server.alerts.matcher import SymbolMatcher
from tradealerts.server.alerts.model import (
    CONDITIONS,
    NOTHING,
    Alert,
    Fired,
    MatchResult,
    StatusChange,
)

__all__ = [
    "CONDITIONS",
    "NOTHING",
    "Alert",
    "AlertBook",
    "Fired",
    "LineRef",
    "MatchResult",
    "Sink",
    "StatusChange",
    "SymbolMatcher",
    "active_lines",
    "find_line",
]
