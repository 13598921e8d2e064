"""``?``: every key binding of the screen it was opened on, read from the bindings
themselves, so the keys shown are the keys that work."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Label

from tradealerts.client.lang import N_, _

__all__ = ["HelpScreen", "bindings_of", "key_label"]

_NAMES = {
    "question_mark": "?", "slash": "/", "left_square_bracket": "[", "right_square_bracket": "]",
    "plus": "+", "equals_sign": "=", "minus": "-", "space": "space", "left": "←",
    "right": "→", "escape": "esc", "enter": "enter", "tab": "tab",
}  # fmt: skip


def key_label(keys: str) -> str:
    return " / ".join(_NAMES.get(k, k) for k in keys.split(" / "))


def _ours(node: Any) -> set[tuple[str, str]]:
    """(key, action) of the bindings our own classes declare on ``node`` (not Textual's)."""
    out: set[tuple[str, str]] = set()
    for cls in type(node).__mro__:
        if not cls.__module__.startswith("tradealerts."):
            continue
        for b in cls.__dict__.get("BINDINGS", []):
            if isinstance(b, Binding):
                for key in b.key.split(","):
                    out.add((key.strip(), b.action))
    return out


def bindings_of(screen: Screen[Any]) -> list[tuple[str, str, str]]:
    """(keys, description, action) of the screen's and the app's own bindings, plus the
    command palette; keys of one action are shown together ("plus / equals_sign")."""
    # the focused widget's too: ``enter`` on the watchlist or a chart's lines is theirs
    ours = _ours(screen) | _ours(screen.app) | (_ours(screen.focused) if screen.focused else set())
    palette = screen.app.COMMAND_PALETTE_BINDING
    rows: dict[tuple[str, str], list[str]] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        if key == palette:
            rows.setdefault((N_("Command palette"), "app.command_palette"), []).append(key)
        elif (key, b.action) in ours and b.description:
            rows.setdefault((b.description, b.action), []).append(key)
    return [(" / ".join(keys), desc, action) for (desc, action), keys in rows.items()]


def describe(description: str, action: str) -> str:
    """A binding's description in the person's language (``Timeframe M5``: one message for
    the nine)."""
    if action.startswith("timeframe('"):
        return _("Timeframe {timeframe}").format(timeframe=action.split("'")[1])
    return _(description)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", N_("Close")),
    ]

    def __init__(self, bindings: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.shown = bindings

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label(_("Keys on this screen (esc closes)"), classes="title")
            # the hint above the keys: below a long list, 24 rows left it out of sight
            # (issue #24); it wraps at its spaces in the modal's width
            yield Label(
                _(
                    "Arrows, page up/down, home/end move in tables; tab moves between panes; "
                    "the mouse works everywhere."
                ),
                classes="hint",
            )
            table: DataTable[Any] = DataTable(id="help-keys", cursor_type="row")
            table.add_columns(_("Key"), _("Does"))
            for key, description, action in self.shown:
                table.add_row(key_label(key), describe(description, action))
            yield table
