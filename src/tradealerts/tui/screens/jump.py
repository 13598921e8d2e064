"""``/``: jump to any symbol, fuzzy-matched as typed; locked ones say which plan opens them."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from tradealerts.client.lang import N_, _
from tradealerts.tui.base import ta

__all__ = ["JumpScreen"]


class JumpScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", N_("Cancel")),
        Binding("down", "move(1)", N_("Next"), show=False),
        Binding("up", "move(-1)", N_("Previous"), show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="jump"):
            yield Input(placeholder=_("symbol (fuzzy): eu, xau, btc …"), id="query")
            yield OptionList(id="matches")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def symbols(self) -> list[tuple[str, bool, str | None]]:
        access: dict[str, dict[str, tuple[bool, str | None]]] = ta(self).store.access
        out = []
        for sym, tfs in sorted(access.items()):
            allowed = any(ok for ok, _ in tfs.values())
            need = next((n for _ok, n in tfs.values() if n), None)
            out.append((sym, allowed, need))
        return out

    def _fill(self, query: str) -> None:
        matcher = Matcher(query) if query else None
        scored: list[tuple[float, Any]] = []
        for sym, allowed, need in self.symbols():
            score = matcher.match(sym) if matcher else 1.0
            if score <= 0:
                continue
            label = Text(sym)
            if not allowed:
                label.append(f"  needs {need}", style="dim")
            scored.append((score, Option(label, id=sym)))
        scored.sort(key=lambda p: -p[0])
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([o for _s, o in scored])
        if scored:
            options.highlighted = 0

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        self._fill(event.value.strip())

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    @on(Input.Submitted)
    def _submit(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
