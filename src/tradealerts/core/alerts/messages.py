"""Alert messages: the user's template with ``{{placeholder}}`` fields, or a default sentence."""

from __future__ import annotations

import re
import time as _time
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from tradealerts.core.alerts.conditions import Condition
from tradealerts.core.messages import N_, Sentence, fold_spaces
from tradealerts.core.symbols import format_price

__all__ = [
    "ALIASES",
    "PLACEHOLDERS",
    "default_english",
    "default_message",
    "default_sentence",
    "message_fields",
    "render_message",
    "template_problem",
]

#: The placeholders a user's template may use.
PLACEHOLDERS = ("symbol", "timeframe", "price", "level", "condition", "time")
#: TradingView's names for ours (see docs/alerts-semantics.md, "Messages").
ALIASES = {"ticker": "symbol", "interval": "timeframe", "close": "price", "timenow": "time"}

_FIELD = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")

C = Condition
# Each default starts "{symbol} {timeframe} " (str.format fields: the sentence goes to the
# server catalog whole, core.messages). Defaults may also use {detail}: the words the
# matcher adds (a fractal's side, a line's kind, a movement's size), which a user template
# cannot reach.
_DEFAULTS: dict[Condition, str] = {  # msgids of the server catalog
    C.greater_than: N_("{symbol} {timeframe} is above {level} at {price}"),
    C.less_than: N_("{symbol} {timeframe} is below {level} at {price}"),
    C.crossing: N_("{symbol} {timeframe} crossed {level} at {price}"),
    C.crossing_up: N_("{symbol} {timeframe} crossed up {level} at {price}"),
    C.crossing_down: N_("{symbol} {timeframe} crossed down {level} at {price}"),
    C.entering_channel: N_("{symbol} {timeframe} entered the channel through {level} at {price}"),
    C.exiting_channel: N_("{symbol} {timeframe} left the channel through {level} at {price}"),
    C.inside_channel: N_("{symbol} {timeframe} is inside the channel {detail} at {price}"),
    C.outside_channel: N_("{symbol} {timeframe} is outside the channel {detail} at {price}"),
    C.moving_up: N_("{symbol} {timeframe} moved up {detail}: {price} reached {level}"),
    C.moving_down: N_("{symbol} {timeframe} moved down {detail}: {price} reached {level}"),
    C.moving_up_pct: N_("{symbol} {timeframe} moved up {detail}: {price} reached {level}"),
    C.moving_down_pct: N_("{symbol} {timeframe} moved down {detail}: {price} reached {level}"),
    C.new_fractal: N_("{symbol} {timeframe} new {detail} fractal at {level} (close {price})"),
    C.line_break: N_("{symbol} {timeframe} closed through {detail} {level} at {price}"),
    C.trendline_break: N_(
        "{symbol} {timeframe} closed through the {detail} at {level} (close {price})"
    ),
    C.line_touch: N_("{symbol} {timeframe} touched {detail} {level} at {price}"),
    C.line_bounce: N_("{symbol} {timeframe} bounced off {detail} {level} (close {price})"),
}


def template_problem(template: str) -> str | None:
    """Why a user's template cannot be used, or None when it can."""
    for name in _FIELD.findall(template):
        if name not in PLACEHOLDERS and name not in ALIASES:
            allowed = " ".join(f"{{{{{p}}}}}" for p in (*PLACEHOLDERS, *ALIASES))
            return f"unknown placeholder {{{{{name}}}}}; use {allowed}"
    rest = _FIELD.sub("", template)
    if "{{" in rest or "}}" in rest:
        return "has a '{{' or '}}' that is not a placeholder like {{price}}"
    return None


def render_message(template: str, fields: Mapping[str, str]) -> str:
    """Replace each ``{{name}}`` (or a TradingView alias of it) with ``fields[name]``; names
    not in ``fields`` stay as written."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        return fields.get(ALIASES.get(name, name), m.group(0))

    return _FIELD.sub(fill, template)


def message_fields(
    *,
    symbol: str,
    timeframe: str,
    condition: str,
    price: float,
    level: float | None,
    time: float | None,
    detail: str = "",
) -> dict[str, str]:
    """The placeholder values of one fired alert: prices with the symbol's decimals, time in
    ISO 8601 UTC (None: left empty, for a default message, which does not say it)."""
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "condition": condition,
        "price": format_price(symbol, price),
        "level": "" if level is None else format_price(symbol, level),
        # time.gmtime, not datetime: the same text, a third of the cost (once per fire)
        "time": "" if time is None else _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(time)),
        "detail": detail,
    }


_PARAMS = (*PLACEHOLDERS, "detail")


def _number(value: Any) -> Any:
    """A formatted price as a Decimal (``"1.09000"``: its decimals kept, said per locale
    later); anything else (empty, ``"1,234.50"``) as it is."""
    if isinstance(value, str) and value:
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def default_message(condition: Condition, fields: Mapping[str, Any]) -> str:
    """The sentence used when the alert has no template, e.g.
    ``EURUSD H1 crossed up 1.09000 at 1.09012``: a :class:`Sentence`, said in English here
    and in its owner's language where it is recorded (prices then in the locale's form,
    with the symbol's decimals)."""
    params = {name: fields.get(name, "") for name in _PARAMS}
    params["price"] = _number(params["price"])
    params["level"] = _number(params["level"])
    # an empty {detail} leaves no double space (Sentence)
    return Sentence(_DEFAULTS[condition], params)


def default_sentence(
    condition: Condition,
    symbol: str,
    timeframe: str,
    price: float,
    level: float | None,
    detail: str = "",
) -> str:
    """``default_message(condition, message_fields(...))`` for a fire without a template,
    built without the intermediate fields: the same Sentence, once per fire (a backtest
    makes tens of thousands)."""
    params = {
        "symbol": symbol,
        "timeframe": timeframe,
        "price": _number(format_price(symbol, price)),
        "level": "" if level is None else _number(format_price(symbol, level)),
        "condition": condition.value,
        "time": "",
        "detail": detail,
    }
    return Sentence(_DEFAULTS[condition], params)


def default_english(
    condition: Condition,
    symbol: str,
    timeframe: str,
    prices: Sequence[float],
    levels: Sequence[float | None],
    details: Sequence[str],
) -> list[str]:
    """``str(default_sentence(...))`` of each fire of one alert (its prices, levels and
    details): the English text alone, without what a translation needs (a backtest's
    reasons, tens of thousands; other languages say the Sentence). The sentence's fixed
    fields are put in once per detail, the prices per fire."""
    base, forms, out = _DEFAULTS[condition], dict[str, str](), []
    numbers: dict[float, str] = {}  # a level (and often a price) recurs from fire to fire

    def number(value: float) -> str:
        text = numbers.get(value)
        if text is None:
            text = format_price(symbol, value)
            if value:  # 0.0 and -0.0 are one key but two texts
                numbers[value] = text
        return text

    for price, level, detail in zip(prices, levels, details, strict=True):
        form = forms.get(detail)
        if form is None:
            escaped = str(detail).replace("{", "{{").replace("}", "}}")
            form = forms[detail] = base.format(
                symbol=symbol,
                timeframe=timeframe,
                condition=condition.value,
                time="",
                detail=escaped,
                price="{price}",
                level="{level}",
            )
        text = form.format(price=number(price), level="" if level is None else number(level))
        out.append(fold_spaces(text))
    return out
