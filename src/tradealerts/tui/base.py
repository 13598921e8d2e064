"""``ta(node)``: the running ``TradeAlertsApp`` of a widget or screen, typed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.dom import DOMNode

if TYPE_CHECKING:
    from tradealerts.tui.app import TradeAlertsApp

__all__ = ["ta"]


def ta(node: DOMNode) -> TradeAlertsApp:
    return cast("TradeAlertsApp", node.app)
