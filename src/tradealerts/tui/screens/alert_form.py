"""The new/edit alert form (a modal): pick a condition and only its value fields show; every
field is checked as it is typed by the rules the CLI and the server use
(``tradealerts.core.alerts.validate_alert``), the message shown beside the field. Nothing is
sent while a field is wrong."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select

from tradealerts.client.lang import N_, _
from tradealerts.core.alerts import (
    NUMBER_VALUES,
    OPTIONAL_VALUES,
    REQUIRED_VALUES,
    SIDES,
    VALUE_FIELDS,
    AlertCreate,
    AlertUpdate,
    Condition,
    Frequency,
    channel_names,
    parse_when,
    validate_alert,
)
from tradealerts.tui.store import TIMEFRAMES

__all__ = ["AlertFormScreen", "parse_expiry"]

_TEXT_FIELDS = ("symbol", *VALUE_FIELDS, "expires_at", "message", "webhook_url", "notify")


def parse_expiry(text: str, now: datetime) -> datetime | str:
    """``30m``/``12h``/``7d``/``2w`` from now or an ISO date/time; a bad one is its message."""
    when = parse_when(text, now)
    if when is None:
        return _("is not a duration (30m, 12h, 7d, 2w) or a date (2026-12-31T18:00Z)")
    return when


#: each value's label and hint (``N_``: translated where shown); the values, side's words
#: and the condition names stay as the server reads them
_VALUE_LABELS = {
    "level": N_("Level"),
    "lower": N_("Lower"),
    "upper": N_("Upper"),
    "amount": N_("Amount"),
    "bars": N_("Bars"),
    "side": N_("Side"),
    "line_id": N_("Line id"),
    "distance": N_("Distance"),
    "buffer": N_("Buffer"),
    "confirm_bars": N_("Confirm bars"),
}
_HINTS = {
    "level": N_("price"),
    "lower": N_("price"),
    "upper": N_("price"),
    "amount": N_("price units (a percentage for *_pct)"),
    "bars": "1–500",
    "side": "up/down/either, support/resistance",
    "line_id": N_("h… or d… (from the chart)"),
    "distance": N_("price distance"),
}


class AlertFormScreen(ModalScreen[AlertCreate | AlertUpdate | None]):
    """``dismiss`` gives the AlertCreate (new) or AlertUpdate (edit), or None (cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", N_("Cancel")),
        Binding("ctrl+s", "save", N_("Save")),
        Binding("ctrl+t", "test", N_("Test: when it would have fired"), show=False),
    ]

    def __init__(
        self,
        *,
        symbol: str,
        timeframe: str,
        alert: Any = None,
        now: datetime | None = None,
        channel_names: list[str] | None = None,
    ) -> None:
        super().__init__()
        #: the user's push channels, when known: the names the "Push to" field may take
        self.channel_names = channel_names
        self.alert = alert  # AlertPublic when editing
        self.symbol, self.timeframe = symbol, timeframe
        self._now = now
        self.touched: set[str] = set()
        self.errors: dict[str, str] = {}
        self.tested: dict[str, Any] | None = None

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        a = self.alert
        title = _("Edit alert #{id}").format(id=a.id) if a is not None else _("New alert")
        with VerticalScroll(id="form"):
            yield Label(title, classes="title")
            yield from self._row("symbol", N_("Symbol"), Input(a.symbol if a else self.symbol,
                                                           id="symbol", compact=True))  # fmt: skip
            timeframe = a.timeframe if a else self.timeframe
            yield from self._choice("timeframe", N_("Timeframe"), TIMEFRAMES, timeframe)
            cond = a.condition.value if a else Condition.crossing_up.value
            yield from self._choice("condition", N_("Condition"), Condition, cond)
            for name in VALUE_FIELDS:
                value = getattr(a, name) if a is not None else None
                text = "" if value is None else str(getattr(value, "value", value))
                field = Input(text, id=name, placeholder=self._hint(name), compact=True)
                yield from self._row(name, _VALUE_LABELS[name], field)
            freq = a.frequency.value if a else Frequency.once.value
            yield from self._choice("frequency", N_("Frequency"), Frequency, freq)
            expires = a.expires_at.isoformat().replace("+00:00", "Z") if a and a.expires_at else ""
            hint = _("30m, 12h, 7d, 2w or a date")
            expiry = Input(expires, id="expires_at", placeholder=hint, compact=True)
            yield from self._row("expires_at", N_("Expires"), expiry)
            message = Input((a.message or "") if a else "", id="message",
                            placeholder="{{symbol}} crossed {{level}}", compact=True)  # fmt: skip
            yield from self._row("message", N_("Message"), message)
            yield Checkbox(
                _("Also mail me"), a.channels.email if a else False, id="email", compact=True
            )
            hook = (a.channels.webhook_url or "") if a else ""
            webhook = Input(hook, id="webhook_url", placeholder="https://…", compact=True)
            yield from self._row("webhook_url", N_("Webhook"), webhook)
            named = a.channels.notify if a is not None else None
            push = Input(", ".join(named or []), id="notify", compact=True,
                         placeholder=self._channels_hint())  # fmt: skip
            yield from self._row("notify", N_("Push to"), push)
            yield Label("", id="test-result")
            with Horizontal(classes="buttons"):
                yield Button(_("Save"), variant="primary", id="save")
                yield Button(_("Test"), id="test")
                yield Button(_("Cancel"), id="cancel")

    def _row(self, name: str, label: str, field: Any) -> ComposeResult:
        """``label``: English (``N_``), shown translated."""
        with Horizontal(classes="row", id=f"row-{name}"):
            yield Label(_(label), classes="label")
            yield field
        yield Label("", classes="error", id=f"error-{name}")

    def _choice(self, name: str, label: str, options: Iterable[Any], value: str) -> ComposeResult:
        """A row whose field is a compact drop-down of ``options`` (strings or an enum's
        members: their values), each shown as it is sent."""
        values = [str(getattr(o, "value", o)) for o in options]
        field = Select([(v, v) for v in values], value=value, allow_blank=False, compact=True,
                       id=name)  # fmt: skip
        yield from self._row(name, label, field)

    def _channels_hint(self) -> str:
        if self.channel_names:
            return _("channels: {names}").format(names=", ".join(self.channel_names))
        if self.alert is None:
            return _("phone, team (empty: your default channels)")
        return _("phone, team (tradealerts channels list)")

    @staticmethod
    def _hint(name: str) -> str:
        hint = _HINTS.get(name, "")
        return _(hint) if hint else ""

    def on_mount(self) -> None:
        for label in self.query(".error"):
            label.display = False
        self._show_fields()
        self.query_one("#symbol", Input).focus()

    # -- state -----------------------------------------------------------------------------
    def condition(self) -> Condition:
        return Condition(str(self.query_one("#condition", Select).value))

    def _show_fields(self) -> None:
        cond = self.condition()
        takes = set(REQUIRED_VALUES[cond]) | set(OPTIONAL_VALUES[cond])
        for name in VALUE_FIELDS:
            shown = name in takes
            self.query_one(f"#row-{name}").display = shown
        self.query_one("#side", Input).placeholder = "/".join(sorted(SIDES.get(cond, ())))

    def now(self) -> datetime:
        return self._now or datetime.now(UTC)

    def data(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The alert as typed, and the fields that are not even the right kind of value."""
        cond = self.condition()
        takes = set(REQUIRED_VALUES[cond]) | set(OPTIONAL_VALUES[cond])
        out: dict[str, Any] = {
            "symbol": self.query_one("#symbol", Input).value,
            "timeframe": str(self.query_one("#timeframe", Select).value),
            "condition": cond.value,
            "frequency": str(self.query_one("#frequency", Select).value),
        }
        bad: dict[str, str] = {}
        for name in VALUE_FIELDS:
            text = self.query_one(f"#{name}", Input).value.strip()
            if not text or name not in takes:
                continue
            kind = NUMBER_VALUES.get(name)
            if kind is not None:
                try:
                    out[name] = int(text) if kind is int else float(text.replace(",", ""))
                except ValueError:
                    whole = kind is int
                    bad[name] = _("must be a whole number") if whole else _("must be a number")
            else:
                out[name] = text
        expires = self.query_one("#expires_at", Input).value.strip()
        if expires:
            when = parse_expiry(expires, self.now())
            if isinstance(when, str):
                bad["expires_at"] = when
            else:
                out["expires_at"] = when
        message = self.query_one("#message", Input).value
        if message.strip():
            out["message"] = message
        hook = self.query_one("#webhook_url", Input).value.strip()
        out["channels"] = {
            "email": self.query_one("#email", Checkbox).value,
            "webhook_url": hook or None,
        }
        typed = self.query_one("#notify", Input).value
        names = channel_names(typed)
        if names or self.alert is not None:  # new and empty: the server names the defaults
            out["channels"]["notify"] = names
        unknown = [
            n for n in names if self.channel_names is not None and n not in self.channel_names
        ]
        if unknown:
            bad["notify"] = _("you have no channel named {name}").format(name=repr(unknown[0]))
        return out, bad

    def check(self) -> AlertCreate | None:
        """Validate everything; ``self.errors`` maps field → message."""
        data, bad = self.data()
        self.errors = dict(bad)
        alert = None
        try:
            alert = validate_alert(data, now=self.now(), allow_insecure_loopback=True)
        except ValidationError as exc:
            for err in exc.errors():
                loc = [str(p) for p in err.get("loc", ())]
                channel = loc[1] if len(loc) > 1 else loc[-1]
                name = channel if loc and loc[0] == "channels" else (loc[0] if loc else "symbol")
                self.errors.setdefault(name, err["msg"].removeprefix("Value error, "))
        return alert if not self.errors else None

    def _show_errors(self, every: bool) -> None:
        for name in (*_TEXT_FIELDS, "timeframe", "condition", "frequency"):
            label = self.query_one(f"#error-{name}", Label)
            message = self.errors.get(name, "")
            shown = bool(message) and (every or name in self.touched)
            label.update(f"↳ {message}" if shown else "")
            label.display = shown

    # -- events ----------------------------------------------------------------------------
    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if event.input.id:
            self.touched.add(event.input.id)
        self.check()
        self._show_errors(every=False)

    @on(Select.Changed, "#condition")
    def _condition(self) -> None:
        self._show_fields()
        self.check()
        self._show_errors(every=False)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        alert = self.check()
        self._show_errors(every=True)
        if alert is None:
            return
        if self.alert is None:
            self.dismiss(alert)
            return
        patch = alert.model_dump(exclude={"symbol"} if alert.symbol == self.alert.symbol else set())
        self.dismiss(AlertUpdate.model_validate(patch))

    @on(Button.Pressed, "#test")
    def action_test(self) -> None:
        """**Test**: when the alert as typed would have fired over the held history (the
        count and the verdict, shown above the buttons), before it is saved; nothing is
        stored."""
        alert = self.check()
        self._show_errors(every=True)
        if alert is None:
            return
        self.query_one("#test-result", Label).update(_("Testing …"))
        self.run_worker(self._test(alert), group="backtest", exclusive=True, exit_on_error=False)

    async def _test(self, alert: AlertCreate) -> None:
        from tradealerts.client import endpoints
        from tradealerts.tui.backtest import said
        from tradealerts.tui.base import ta
        from tradealerts.tui.errors import Handled

        label = self.query_one("#test-result", Label)
        try:
            result = await ta(self).api(endpoints.alert_backtest(alert))
        except Handled as exc:
            label.update(_("Test failed: {error}").format(error=exc))
            return
        #: the last answer, for whoever reads it (a test; the label is what people see)
        self.tested = result
        label.update(_("Would have fired: {result}.").format(result=said(result)))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
