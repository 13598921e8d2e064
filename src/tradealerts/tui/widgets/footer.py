"""The footer, in the person's language: Textual's own, each key's description translated
as it is shown (bindings are class attributes, built before the language is known; their
descriptions are marked ``N_`` for the catalog)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

from tradealerts.client.lang import _

__all__ = ["Footer"]


class Footer(TextualFooter):
    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.description:
                widget.description = _(widget.description)
            yield widget
