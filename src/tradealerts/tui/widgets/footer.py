"""The footer, in the person's language: Textual's own, each key's description translated
as it is shown (bindings are class attributes, built before the language is known; their
descriptions are marked ``N_`` for the catalog); and the bars under every full screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

from tradealerts.client.lang import _

__all__ = ["Footer", "bottom_bars", "help_only"]


class Footer(TextualFooter):
    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.description:
                widget.description = _(widget.description)
            yield widget


def help_only(key: str, action: str, description: str) -> Binding:
    """A key that ``?`` lists but the footer does not: at 80 columns the footer is full, and
    one more key pushed ``? Help`` out of it (issue #24)."""
    return Binding(key, action, description, show=False)


def bottom_bars() -> ComposeResult:
    """What ends every full screen: the status bar, then the keys."""
    from tradealerts.tui.widgets.status_bar import StatusBar

    yield StatusBar()
    yield Footer(compact=True)
