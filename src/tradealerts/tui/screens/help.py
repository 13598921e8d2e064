"""``?``: every key binding of the screen it was opened on, read from the bindings
themselves, so the keys shown are the keys that work."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Label

__all__ = ["HelpScreen", "bindings_of", "key_label"]

_NAMES = {
    "question_mark": "?", "slash": "/", "left_square_bracket": "[", "right_square_bracket": "]",
    "plus": "+", "equals_sign": "=", "minus": "-", "space": "space", "left": "←",
    "right": "→", "escape": "esc", "enter": "enter", "tab": "tab",
}  # fmt: skip


def key_label(key: str) -> str:
    return _NAMES.get(key, key)


def bindings_of(screen: Screen[Any]) -> list[tuple[str, str, str]]:
    """(key, description, action) of every active binding with a description."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for key, active in screen.active_bindings.items():
        b = active.binding
        if not b.description or key in seen or not active.enabled:
            continue
        seen.add(key)
        out.append((key, b.description, b.action))
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close"),
    ]

    def __init__(self, bindings: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.shown = bindings

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label("Keys on this screen (esc closes)", classes="title")
            table: DataTable[Any] = DataTable(id="help-keys", cursor_type="row")
            table.add_columns("Key", "Does")
            for key, description, _action in self.shown:
                table.add_row(key_label(key), description)
            yield table
