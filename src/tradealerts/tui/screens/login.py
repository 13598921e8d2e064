"""The login screen, shown when there is no session (or the server ended it)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

from tradealerts.client import ApiError, ClientError
from tradealerts.client.lang import N_, _
from tradealerts.tui.base import spawn, ta

__all__ = ["LoginScreen"]


class LoginScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "app.quit", N_("Quit"))]

    def __init__(self, why: str = "") -> None:
        super().__init__()
        self.why = why

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            title = _("Log in to {server}").format(server=ta(self).client.base_url)
            yield Label(title, classes="title", markup=False)
            yield Label(self.why, id="why", markup=False)
            yield Input(placeholder=_("email"), id="email")
            yield Input(placeholder=_("password"), password=True, id="password")
            yield Input(placeholder=_("2FA code (if on)"), id="otp")
            yield Checkbox(_("Stay logged in for 30 days"), True, id="remember")
            yield Label("", classes="error", id="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(_("Log in"), variant="primary", id="login")
                yield Button(_("Quit"), id="quit")

    def on_mount(self) -> None:
        self.query_one("#email", Input).focus()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        if event.input.id == "email":
            self.query_one("#password", Input).focus()
        else:
            spawn(self, self.login, exclusive=True)

    @on(Button.Pressed, "#login")
    def _pressed(self) -> None:
        spawn(self, self.login, exclusive=True)

    @on(Button.Pressed, "#quit")
    def _quit(self) -> None:
        ta(self).exit()

    async def login(self) -> None:
        email = self.query_one("#email", Input).value.strip()
        password = self.query_one("#password", Input).value
        otp = self.query_one("#otp", Input).value.strip() or None
        error = self.query_one("#error", Label)
        if not email or not password:
            error.update(_("Type your email and password."))
            return
        error.update(_("Logging in …"))
        remember = self.query_one("#remember", Checkbox).value
        try:
            await ta(self).client.login(email, password, remember=remember, otp=otp)
        except ApiError as exc:
            error.update(exc.message)
            return
        except ClientError as exc:
            error.update(exc.message)
            return
        except Exception as exc:
            ta(self).handle_error(exc)
            error.update(_("Login failed; see the log."))
            return
        self.dismiss(True)
