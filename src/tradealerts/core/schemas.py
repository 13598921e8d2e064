"""Wire schemas of the HTTP API, shared by the server and the client (pydantic, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    field_serializer,
    field_validator,
)

from tradealerts.core.i18n import LANGUAGES
from tradealerts.core.messages import _, localise, reader_language
from tradealerts.core.text import MultiLine, SingleLine, unsafe_reason

__all__ = [
    "CHART_STYLES",
    "LANGUAGES",
    "THEMES",
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
]

#: The TUI's themes (Textual's built-in names).
THEMES = (
    "textual-dark", "textual-light", "nord", "gruvbox", "tokyo-night", "monokai", "dracula",
    "catppuccin-mocha", "catppuccin-latte", "solarized-light", "flexoki",
)  # fmt: skip
CHART_STYLES = ("candles", "ohlc", "line")


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

    @field_serializer("message")
    def _said(self, message: str) -> str:
        # a server sentence (core.messages.Text) in the language of whoever reads it
        return localise(message, reader_language())


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


class PreferencesUpdate(_In):
    theme: str | None = None
    chart_style: str | None = None
    language: str | None = None
    timezone: str | None = None
    analytics_opt_in: StrictBool | None = None
    marketing_opt_in: StrictBool | None = None
    alert_bell: StrictBool | None = None

    @field_validator("theme")
    @classmethod
    def _theme(cls, v: str | None) -> str | None:
        if v is not None and v not in THEMES:
            raise ValueError(
                _(
                    "unknown theme {value!r}: use one of {allowed}",
                    value=v,
                    allowed=", ".join(THEMES),
                )
            )
        return v

    @field_validator("chart_style")
    @classmethod
    def _style(cls, v: str | None) -> str | None:
        if v is not None and v not in CHART_STYLES:
            raise ValueError(
                _(
                    "unknown chart style {value!r}: use one of {allowed}",
                    value=v,
                    allowed=", ".join(CHART_STYLES),
                )
            )
        return v

    @field_validator("language")
    @classmethod
    def _language(cls, v: str | None) -> str | None:
        if v is not None and v not in LANGUAGES:
            raise ValueError(
                _(
                    "unsupported language {value!r}: use one of {allowed}",
                    value=v,
                    allowed=", ".join(LANGUAGES),
                )
            )
        return v

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
    symbol: str = Field(min_length=1, max_length=16)
    timeframe: str = Field(min_length=1, max_length=4)


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
