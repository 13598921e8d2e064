"""Alert conditions, frequencies, price sources, statuses, and the values each condition takes."""

from __future__ import annotations

from enum import StrEnum, auto

from tradealerts.core.line_ids import LINE_ID_DIAGONAL, LINE_ID_HORIZONTAL  # re-exported

__all__ = [
    "BAR_CLOSE_CONDITIONS",
    "CHANNEL_CONDITIONS",
    "EDGE_CONDITIONS",
    "FRACTAL_CONDITIONS",
    "LEVEL_CONDITIONS",
    "LINE_ID_DIAGONAL",
    "LINE_ID_HORIZONTAL",
    "MOVEMENT_CONDITIONS",
    "NUMBER_VALUES",
    "OPTIONAL_VALUES",
    "PCT_CONDITIONS",
    "REQUIRED_VALUES",
    "SIDES",
    "VALUE_FIELDS",
    "AlertStatus",
    "Condition",
    "Frequency",
    "PriceSource",
    "Side",
    "WebhookFormat",
    "evaluated_on_ticks",
]


# In every enum here ``auto()`` makes a member's value its own name (``StrEnum``'s rule): the
# wire's word, written once. (A docstring is the API schema's description: kept as it was.)
class Condition(StrEnum):
    """What an alert watches for; the value is the wire name."""

    greater_than = auto()
    less_than = auto()
    crossing = auto()
    crossing_up = auto()
    crossing_down = auto()
    entering_channel = auto()
    exiting_channel = auto()
    inside_channel = auto()
    outside_channel = auto()
    moving_up = auto()
    moving_down = auto()
    moving_up_pct = auto()
    moving_down_pct = auto()
    new_fractal = auto()
    line_break = auto()
    trendline_break = auto()
    line_touch = auto()
    line_bounce = auto()


class Frequency(StrEnum):
    """How often an alert may fire (see ``tradealerts.core.alerts.rules``)."""

    once = auto()
    once_per_bar = auto()
    once_per_bar_close = auto()
    once_per_minute = auto()


class PriceSource(StrEnum):
    """Which side of the quote a tick-evaluated alert watches. Bars are built from bids."""

    bid = auto()
    ask = auto()


class AlertStatus(StrEnum):
    """Only active alerts are matched; the others say why in ``status_reason``."""

    active = auto()
    paused = auto()
    triggered = auto()
    expired = auto()


class WebhookFormat(StrEnum):
    """The body a webhook receives: ours (``json``) or the one a chat service expects."""

    json = auto()
    discord = auto()
    slack = auto()
    telegram = auto()


class Side(StrEnum):
    """Which fractals (up/down) or which lines (support/resistance) a fractal alert follows."""

    up = auto()
    down = auto()
    either = auto()
    support = auto()
    resistance = auto()


C = Condition
LEVEL_CONDITIONS = frozenset(
    {C.greater_than, C.less_than, C.crossing, C.crossing_up, C.crossing_down}
)
CHANNEL_CONDITIONS = frozenset(
    {C.entering_channel, C.exiting_channel, C.inside_channel, C.outside_channel}
)
MOVEMENT_CONDITIONS = frozenset({C.moving_up, C.moving_down, C.moving_up_pct, C.moving_down_pct})
PCT_CONDITIONS = frozenset({C.moving_up_pct, C.moving_down_pct})
FRACTAL_CONDITIONS = frozenset(
    {C.new_fractal, C.line_break, C.trendline_break, C.line_touch, C.line_bounce}
)
#: Transitions: they compare the previous price with the current one, so they need both.
EDGE_CONDITIONS = frozenset(
    {C.crossing, C.crossing_up, C.crossing_down, C.entering_channel, C.exiting_channel}
)
#: Evaluated only when a bar of the alert's timeframe closes, whatever the frequency.
BAR_CLOSE_CONDITIONS = frozenset({C.new_fractal, C.line_break, C.trendline_break, C.line_bounce})

#: The condition-specific values of an alert, in wire order.
VALUE_FIELDS = (
    "level",
    "lower",
    "upper",
    "amount",
    "bars",
    "side",
    "line_id",
    "distance",
    "buffer",
    "confirm_bars",
)

#: The values that are numbers, and of which kind (the others are words: side, line_id).
NUMBER_VALUES: dict[str, type[int] | type[float]] = {
    "level": float, "lower": float, "upper": float, "amount": float, "bars": int,
    "distance": float, "buffer": float, "confirm_bars": int,
}  # fmt: skip

REQUIRED_VALUES: dict[Condition, tuple[str, ...]] = {
    **{c: ("level",) for c in LEVEL_CONDITIONS},
    **{c: ("lower", "upper") for c in CHANNEL_CONDITIONS},
    **{c: ("amount", "bars") for c in MOVEMENT_CONDITIONS},
    C.new_fractal: (),
    C.line_break: (),
    C.trendline_break: (),
    C.line_touch: ("distance",),
    C.line_bounce: ("distance",),
}
#: Values a condition accepts but does not need (``side`` defaults to ``either``).
OPTIONAL_VALUES: dict[Condition, tuple[str, ...]] = {
    **{c: () for c in LEVEL_CONDITIONS | CHANNEL_CONDITIONS | MOVEMENT_CONDITIONS},
    C.new_fractal: ("side",),
    C.line_break: ("side", "line_id", "buffer", "confirm_bars"),
    C.trendline_break: ("side", "line_id", "buffer", "confirm_bars"),
    C.line_touch: ("side", "line_id"),
    C.line_bounce: ("side", "line_id"),
}
SIDES: dict[Condition, frozenset[Side]] = {
    C.new_fractal: frozenset({Side.up, Side.down, Side.either}),
    C.line_break: frozenset({Side.support, Side.resistance, Side.either}),
    C.trendline_break: frozenset({Side.support, Side.resistance, Side.either}),
    C.line_touch: frozenset({Side.support, Side.resistance, Side.either}),
    C.line_bounce: frozenset({Side.support, Side.resistance, Side.either}),
}


def evaluated_on_ticks(condition: Condition, frequency: Frequency) -> bool:
    """True when ticks drive the alert; False when only closed bars of its timeframe do."""
    return frequency != Frequency.once_per_bar_close and condition not in BAR_CLOSE_CONDITIONS
