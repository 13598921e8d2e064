"""Webhook bodies: ours (``json``), or the shape Discord, Slack or Telegram expect, so a
webhook URL of theirs works as is. Examples of each are in docs/api.md ("Webhook formats").

- ``json``: the fired alert's JSON (the stream's ``alert`` data).
- ``discord``: an Execute Webhook body: ``content`` (the message, at most 2000 characters),
  ``username`` and one embed (title, description, the time, price and level fields).
- ``slack``: an incoming-webhook body: ``text`` (the message: what notifications show) and
  ``blocks`` (a section with the pair and condition, a context line with price, level, time).
- ``telegram``: a Bot API ``sendMessage`` body: ``chat_id`` (from the URL's ``chat_id=``
  query, a number when it is one) and ``text``.

The Standard Webhooks signature headers are sent with every format (receivers that do not
check them ignore them).

What the user wrote is escaped for the service that reads it: the text is free of control
characters already (``core.text``; the alert log makes old text safe), Discord is told to
ping nobody (``allowed_mentions``: an ``@everyone`` in a message stays text), Slack's
``&``, ``<`` and ``>`` are escaped as its docs ask (``<!channel>`` would ping, ``<url|x>``
would disguise a link), and Telegram gets plain text (no ``parse_mode``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tradealerts.core.alerts import WebhookFormat
from tradealerts.core.symbols import format_price

__all__ = ["webhook_body"]

_USERNAME = "tradealerts"


def _chat_id(url: str) -> int | str:
    value = (parse_qs(urlsplit(url).query).get("chat_id") or [""])[0]
    digits = value[1:] if value.startswith("-") else value
    return int(value) if digits.isdigit() else value


def _slack(text: str) -> str:
    """Slack's escaping of message text (its docs: "Escaping text")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _price(symbol: str, value: float | None) -> str:
    return "" if value is None else format_price(symbol, value)


def webhook_body(fmt: WebhookFormat | str, event: dict[str, Any], url: str) -> dict[str, Any]:
    """The body for ``event`` (``event_json``'s dict) in format ``fmt``."""
    fmt = WebhookFormat(fmt)
    if fmt == WebhookFormat.json:
        return event
    symbol, tf = str(event["symbol"]), str(event["timeframe"])
    message = str(event["message"])
    title = f"{symbol} {tf}: {event['condition']}"
    price, level = _price(symbol, event["price"]), _price(symbol, event["level"])
    time = str(event["time"])
    if fmt == WebhookFormat.discord:
        fields = [{"name": "Price", "value": price, "inline": True}]
        if level:
            fields.append({"name": "Level", "value": level, "inline": True})
        return {
            "content": message[:2000],
            "username": _USERNAME,
            "allowed_mentions": {"parse": []},
            "embeds": [
                {
                    "title": title[:256],
                    "description": message[:4096],
                    "timestamp": time,
                    "fields": fields,
                }
            ],
        }
    if fmt == WebhookFormat.slack:
        # read by people: to the second, as the {{time}} placeholder gives it
        shown = time[:19] + "Z" if len(time) > 20 and time[19] == "." else time
        context = f"price {price}" + (f" · level {level}" if level else "") + f" · {shown}"
        text = _slack(message)
        return {
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{text}"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
            ],
        }
    return {"chat_id": _chat_id(url), "text": message[:4096]}
