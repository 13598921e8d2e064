"""Wire schemas of the HTTP API, shared by the server and the client (pydantic, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    field_validator,
)

from tradealerts.core.i18n import LANGUAGES
from tradealerts.core.messages import N_, Text, _, localise, reader_language
from tradealerts.core.text import MultiLine, SingleLine, unsafe_reason

__all__ = [
    "CHART_STYLES",
    "LANGUAGES",
    "SYMBOL_MAX_LENGTH",
    "THEMES",
    "TIMEFRAME_MAX_LENGTH",
    "AccountDelete",
    "EmailChange",
    "EmailVerify",
    "ErrorBody",
    "ErrorDetail",
    "ForgotPassword",
    "LoginRequest",
    "Message",
    "NotificationPage",
    "NotificationPublic",
    "PairAccess",
    "PasswordChange",
    "Preferences",
    "PreferencesUpdate",
    "Profile",
    "ProfileUpdate",
    "RefreshRequest",
    "RegisterRequest",
    "ResetPassword",
    "SupportCreate",
    "SupportPublic",
    "SymbolAccess",
    "SymbolsPublic",
    "TokenPair",
    "TotpCode",
    "TotpDisable",
    "TotpSetup",
    "UserPublic",
    "WatchlistCreate",
    "WatchlistItemPublic",
    "WebhookSecret",
    "from_row",
]

#: The TUI's themes (Textual's built-in names).
THEMES = (
    "textual-dark", "textual-light", "nord", "gruvbox", "tokyo-night", "monokai", "dracula",
    "catppuccin-mocha", "catppuccin-latte", "solarized-light", "flexoki",
)  # fmt: skip
CHART_STYLES = ("candles", "ohlc", "line")
#: The longest symbol and timeframe names the API reads (``EURUSD``, ``H12``): longer is a
#: 422 before any lookup (one bound for bodies and query parameters alike).
SYMBOL_MAX_LENGTH = 16
TIMEFRAME_MAX_LENGTH = 4


_Model = TypeVar("_Model", bound=BaseModel)


def from_row(model: type[_Model], row: object, **given: Any) -> _Model:
    """``model`` filled from ``row``'s attributes of the same names (a database row, say);
    ``given``: the fields named or worked out otherwise, e.g. ``read=row.read_at is not None``."""
    same = {name: getattr(row, name) for name in model.model_fields if name not in given}
    return model.model_validate({**same, **given})


class _In(BaseModel):
    """Input: unknown fields refused; no control characters in any string (``core.text``:
    free-text fields say ``SingleLine`` or ``MultiLine``; the rest, such as passwords, get
    the multi-line rule here, so nothing with a NUL or U+2028 gets in)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, v: object) -> object:
        if isinstance(v, str):
            reason = unsafe_reason(v, multiline=True)
            if reason is not None:
                raise ValueError(_("must not contain control characters ({reason})", reason=reason))
        return v


class RegisterRequest(_In):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    display_name: SingleLine = Field("", max_length=80)


class EmailVerify(_In):
    email: EmailStr
    code: str = Field(pattern=r"^\d{6}$", description="the 6-digit code from the mail")


class LoginRequest(_In):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    remember: StrictBool = False
    otp: str | None = Field(None, pattern=r"^\d{6}$")


class RefreshRequest(_In):
    refresh_token: str = Field(min_length=10, max_length=200)


class ForgotPassword(_In):
    email: EmailStr


class ResetPassword(_In):
    email: EmailStr
    code: str = Field(pattern=r"^\d{6}$")
    password: str = Field(min_length=1, max_length=256)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 scheme name
    expires_at: datetime
    refresh_expires_at: datetime


class TotpSetup(BaseModel):
    secret: str
    otpauth_uri: str


class TotpCode(_In):
    code: str = Field(pattern=r"^\d{6}$")


class TotpDisable(_In):
    password: str = Field(min_length=1, max_length=256)
    code: str = Field(pattern=r"^\d{6}$")


class Message(BaseModel):
    message: str

    @field_validator("message", mode="before")
    @classmethod
    def _said(cls, message: Any) -> Any:
        # a server sentence (core.messages.Text) in the language of whoever reads it; said
        # now, because validation keeps a plain str (its parameters would be lost)
        return localise(message, reader_language()) if isinstance(message, Text) else message


class ErrorDetail(BaseModel):
    """What went wrong: a stable ``code``, a sentence to act on, and extras such as
    ``field`` or ``required_tier``."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    request_id: str | None = None


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorDetail


class UserPublic(BaseModel):
    id: int
    email: str
    tier: str
    is_admin: bool
    email_verified: bool
    display_name: str
    totp_enabled: bool
    created_at: datetime


class Profile(BaseModel):
    display_name: str
    bio: str


class ProfileUpdate(_In):
    display_name: SingleLine | None = Field(None, max_length=80)
    bio: MultiLine | None = Field(None, max_length=500)


class Preferences(BaseModel):
    theme: str
    chart_style: str
    language: str
    timezone: str
    analytics_opt_in: bool
    marketing_opt_in: bool
    #: ring the terminal bell when an alert fires (``tradealerts tui``); absent from servers
    #: older than this setting, which always rang
    alert_bell: bool = True


def _one_of(allowed: tuple[str, ...], refusal: str) -> AfterValidator:
    """A setting that takes one of ``allowed``; ``refusal`` (marked ``N_``) says ``{value}``
    and ``{allowed}``."""

    def check(v: str | None) -> str | None:
        if v is not None and v not in allowed:
            raise ValueError(_(refusal, value=v, allowed=", ".join(allowed)))
        return v

    return AfterValidator(check)


class PreferencesUpdate(_In):
    theme: Annotated[
        str | None, _one_of(THEMES, N_("unknown theme {value!r}: use one of {allowed}"))
    ] = None
    chart_style: Annotated[
        str | None,
        _one_of(CHART_STYLES, N_("unknown chart style {value!r}: use one of {allowed}")),
    ] = None
    language: Annotated[
        str | None,
        _one_of(LANGUAGES, N_("unsupported language {value!r}: use one of {allowed}")),
    ] = None
    timezone: str | None = None
    analytics_opt_in: StrictBool | None = None
    marketing_opt_in: StrictBool | None = None
    alert_bell: StrictBool | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        if v is not None and v not in available_timezones():
            raise ValueError(
                _("unknown time zone {value!r}: use an IANA name like Europe/Madrid", value=v)
            )
        return v


class EmailChange(_In):
    new_email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class PasswordChange(_In):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class AccountDelete(_In):
    password: str = Field(min_length=1, max_length=256)


class PairAccess(BaseModel):
    timeframe: str
    allowed: bool
    required_tier: str | None


class SymbolAccess(BaseModel):
    symbol: str
    available: bool = Field(description="the server's feed has data for it")
    allowed: bool = Field(description="your tier allows the symbol on some timeframe")
    timeframes: list[PairAccess]


class SymbolsPublic(BaseModel):
    tier: str
    symbols: list[SymbolAccess]


class WatchlistCreate(_In):
    symbol: str = Field(min_length=1, max_length=SYMBOL_MAX_LENGTH)
    timeframe: str = Field(min_length=1, max_length=TIMEFRAME_MAX_LENGTH)


class WatchlistItemPublic(BaseModel):
    id: int
    symbol: str
    timeframe: str
    created_at: datetime


class NotificationPublic(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    read: bool
    created_at: datetime


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    page: int
    per_page: int
    total: int
    unread: int


class SupportCreate(_In):
    subject: SingleLine = Field(min_length=1, max_length=200)
    body: MultiLine = Field(min_length=1, max_length=10_000)


class SupportPublic(BaseModel):
    id: int
    subject: str
    body: str
    status: str
    created_at: datetime


class WebhookSecret(BaseModel):
    """The key that signs the caller's webhooks, and the header that carries the signature."""

    secret: str
    header: str
