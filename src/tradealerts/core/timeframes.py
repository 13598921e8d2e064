"""The nine chart timeframes: names, lengths, MT5 constants and UTC bar alignment."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Timeframe", "TimeframeError", "parse_timeframe"]


class TimeframeError(ValueError):
    """A timeframe name that is not one of the nine we serve."""


class Timeframe(StrEnum):
    """A bar length. The value is the canonical name (``"H1"``)."""

    M5 = "M5"
    M15 = "M15"
    M30 = "M30"
    H1 = "H1"
    H2 = "H2"
    H4 = "H4"
    H8 = "H8"
    H12 = "H12"
    D1 = "D1"

    @property
    def seconds(self) -> int:
        """Length of one bar in seconds."""
        return _SECONDS[self]

    @property
    def mt5(self) -> int:
        """The ``MetaTrader5.TIMEFRAME_*`` constant for this timeframe."""
        return _MT5[self]

    def bar_open(self, t: int) -> int:
        """Open time (epoch seconds, UTC) of the bar containing ``t``.

        Every timeframe here divides a day, so aligning to multiples of the length
        aligns H2…H12 and D1 to 00:00 UTC as well.
        """
        return t - (t % self.seconds)

    def is_multiple_of(self, other: Timeframe) -> bool:
        """True when whole bars of ``other`` build bars of ``self`` (``H4`` of ``H1``)."""
        return self.seconds >= other.seconds and self.seconds % other.seconds == 0

    def __str__(self) -> str:
        return self.value


_SECONDS: dict[Timeframe, int] = {
    Timeframe.M5: 300,
    Timeframe.M15: 900,
    Timeframe.M30: 1800,
    Timeframe.H1: 3600,
    Timeframe.H2: 7200,
    Timeframe.H4: 14400,
    Timeframe.H8: 28800,
    Timeframe.H12: 43200,
    Timeframe.D1: 86400,
}

# Values of MetaTrader5.TIMEFRAME_*; hour frames carry the 0x4000 flag, D1 is 0x4018.
_MT5: dict[Timeframe, int] = {
    Timeframe.M5: 5,
    Timeframe.M15: 15,
    Timeframe.M30: 30,
    Timeframe.H1: 16385,
    Timeframe.H2: 16386,
    Timeframe.H4: 16388,
    Timeframe.H8: 16392,
    Timeframe.H12: 16396,
    Timeframe.D1: 16408,
}

VALID_NAMES = ", ".join(tf.value for tf in Timeframe)


def parse_timeframe(name: str | Timeframe) -> Timeframe:
    """Parse ``h1``/``H1`` into a Timeframe; anything else names the valid choices."""
    if isinstance(name, Timeframe):
        return name
    key = name.strip().upper() if isinstance(name, str) else ""
    try:
        return Timeframe(key)
    except ValueError:
        raise TimeframeError(f"Unknown timeframe {name!r}: use one of {VALID_NAMES}.") from None
