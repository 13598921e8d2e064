"""Wire schemas of ``/api/alerts``: create, update (partial) and the public view.

Every refusal names its field (the error's ``loc``). Checks that need the caller's world come
from the validation context: ``now`` (an aware datetime; default the wall clock) for
``expires_at``, and ``allow_insecure_loopback`` to permit ``http://`` webhooks to
127.0.0.1/localhost/::1 for testing. Use ``validate_alert`` to pass both: it refuses such
webhooks unless told otherwise.
Validation without a context (FastAPI's parse of a request body, a client's local check)
lets them through, because the server re-validates with its own policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tradealerts.core.alerts.conditions import (
    OPTIONAL_VALUES,
    REQUIRED_VALUES,
    SIDES,
    VALUE_FIELDS,
    AlertStatus,
    Condition,
    Frequency,
    PriceSource,
    Side,
    WebhookFormat,
)
from tradealerts.core.alerts.limits import (
    MAX_CONFIRM_BARS,
    MAX_COOLDOWN,
    MAX_FIRES,
    DurationError,
    parse_duration,
)
from tradealerts.core.alerts.messages import template_problem
from tradealerts.core.alerts.spec_rules import spec_problems
from tradealerts.core.push import CHANNEL_NAME_PATTERN
from tradealerts.core.schemas import SYMBOL_MAX_LENGTH
from tradealerts.core.text import SingleLine
from tradealerts.core.tiers import UnknownSymbol, normalize_symbol
from tradealerts.core.timeframes import Timeframe, TimeframeError, parse_timeframe

__all__ = [
    "MAX_BARS",
    "MAX_PRICE",
    "NAME_PATTERN",
    "AlertChannels",
    "AlertCreate",
    "AlertEventPublic",
    "AlertHealth",
    "AlertHistoryPage",
    "AlertList",
    "AlertPublic",
    "AlertUpdate",
    "DeliveryPublic",
    "Name",
    "Symbol",
    "TimeframeIn",
    "channel_names",
    "merge_update",
    "validate_alert",
]

#: Larger levels are refused as absurd (no symbol we serve comes near).
MAX_PRICE = 1e9
#: Movement conditions look back at most this many bars.
MAX_BARS = 500
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: An alert's name: a key in an alerts file and on the command line.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


def _bad(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def _positive(v: float) -> float:
    if not math.isfinite(v):
        raise _bad("finite_number", f"must be a finite number, got {v!r}")
    if v <= 0:
        raise _bad("greater_than", f"must be greater than 0, got {v!r}")
    if v > MAX_PRICE:
        raise _bad("less_than_equal", f"must be at most {MAX_PRICE:,.0f}, got {v!r}")
    return v


def _bars(v: int) -> int:
    if not 1 <= v <= MAX_BARS:
        raise _bad("bars_range", f"must be between 1 and {MAX_BARS}, got {v}")
    return v


def _non_negative(v: float) -> float:
    if not math.isfinite(v):
        raise _bad("finite_number", f"must be a finite number, got {v!r}")
    if v < 0:
        raise _bad("greater_than_equal", f"must be 0 or more, got {v!r}")
    if v > MAX_PRICE:
        raise _bad("less_than_equal", f"must be at most {MAX_PRICE:,.0f}, got {v!r}")
    return v


def _whole_range(low: int, high: int) -> Any:
    def check(v: int) -> int:
        if not low <= v <= high:
            raise _bad("out_of_range", f"must be between {low:,} and {high:,}, got {v}")
        return v

    return check


def _span(seconds: int) -> str:
    """``2678400`` -> ``31 days``: a duration as people wrote it."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n:,} {unit}{'' if n == 1 else 's'}"
    return f"{seconds} seconds"  # unreachable: every int is a whole number of seconds


def _cooldown_range(v: int) -> int:
    # told in days/hours, not the seconds it is stored in: "31d" is what was typed
    if not 1 <= v <= MAX_COOLDOWN:
        raise _bad(
            "out_of_range",
            f"must be between 1 second and {_span(MAX_COOLDOWN)}, got {_span(v) if v > 0 else v}",
        )
    return v


def _duration(v: Any) -> Any:
    """``30m``, ``2h``, ``1d`` or whole seconds; bounds are checked after."""
    if isinstance(v, str):
        try:
            return parse_duration(v)
        except DurationError as exc:
            raise _bad("duration", str(exc)) from None
    return v


def _symbol(v: str) -> str:
    try:
        return normalize_symbol(v)
    except UnknownSymbol as exc:
        raise _bad("unknown_symbol", str(exc)) from None


def _timeframe(v: Any) -> Timeframe:
    if not isinstance(v, str):
        raise _bad("string_type", "must be a timeframe name like H1")
    try:
        return parse_timeframe(v)
    except TimeframeError as exc:
        raise _bad("unknown_timeframe", str(exc)) from None


def _lower(v: Any) -> Any:
    """Enum names are case-insensitive on the wire."""
    return v.strip().lower() if isinstance(v, str) else v


def _future(v: datetime, info: ValidationInfo) -> datetime:
    if v.tzinfo is None or v.utcoffset() is None:
        raise _bad("timezone_aware", "must include a time zone, e.g. 2026-12-01T00:00:00Z")
    context = info.context if isinstance(info.context, Mapping) else {}
    now = context.get("now") or datetime.now(UTC)
    v = v.astimezone(UTC)
    if v <= now:
        raise _bad("in_the_past", f"is in the past ({v:%Y-%m-%dT%H:%M:%SZ}); pick a later time")
    return v


def _template(v: str) -> str:
    problem = template_problem(v)
    if problem is not None:
        raise _bad("bad_template", problem)
    return v


def _webhook(v: str, info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, Mapping) else {}
    parts = urlsplit(v)
    host = (parts.hostname or "").lower()
    if not host:
        raise _bad("url_parsing", "must be a full URL like https://example.com/hook")
    if parts.scheme == "https":
        return v
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        # no context (FastAPI's own parse, a client's local check): the server decides later
        if context.get("allow_insecure_loopback", True):
            return v
        raise _bad("url_scheme", "must use https (http to loopback is off on this server)")
    raise _bad("url_scheme", f"must use https, got {parts.scheme or 'no'} scheme")


Price = Annotated[float, AfterValidator(_positive)]
Bars = Annotated[int, Field(strict=True), AfterValidator(_bars)]
Symbol = Annotated[str, AfterValidator(_symbol)]
TimeframeIn = Annotated[Timeframe, BeforeValidator(_timeframe)]
ConditionIn = Annotated[Condition, BeforeValidator(_lower)]
SideIn = Annotated[Side, BeforeValidator(_lower)]
SourceIn = Annotated[PriceSource, BeforeValidator(_lower)]
FrequencyIn = Annotated[Frequency, BeforeValidator(_lower)]
Expiry = Annotated[datetime, AfterValidator(_future)]
# one line (it becomes a mail's subject); stored rows are read back as they are (core.text)
Template = Annotated[SingleLine, Field(max_length=500), AfterValidator(_template)]
LineId = Annotated[SingleLine, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Buffer = Annotated[float, AfterValidator(_non_negative)]
ConfirmBars = Annotated[int, Field(strict=True), AfterValidator(_whole_range(1, MAX_CONFIRM_BARS))]
Cooldown = Annotated[
    int,
    BeforeValidator(_duration),
    Field(strict=True),
    AfterValidator(_cooldown_range),
]
MaxFires = Annotated[int, Field(strict=True), AfterValidator(_whole_range(1, MAX_FIRES))]
FormatIn = Annotated[WebhookFormat, BeforeValidator(_lower)]
ChannelName = Annotated[str, BeforeValidator(_lower), Field(pattern=CHANNEL_NAME_PATTERN)]


def channel_names(text: str) -> list[str]:
    """``phone, Team`` as typed (the CLI's ``--notify``, the TUI's field): the names
    ``channels.notify`` takes, in lower case, the empty ones dropped."""
    return [n.strip().lower() for n in text.split(",") if n.strip()]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AlertChannels(_In):
    """Where a fired alert goes besides the stream and the in-app notification."""

    email: StrictBool = False
    webhook_url: Annotated[SingleLine, Field(max_length=2048), AfterValidator(_webhook)] | None = (
        None
    )
    #: The body's shape: ours, or what Discord, Slack or Telegram expect (api.md has examples).
    webhook_format: FormatIn = WebhookFormat.json
    #: The user's push channels (``/api/channels``) it pushes to, by name; absent on a new
    #: alert: the channels the user marked default; ``[]``: none.
    notify: Annotated[list[ChannelName], Field(max_length=10)] | None = None

    @field_validator("notify")
    @classmethod
    def _unique_names(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _telegram_chat(self) -> AlertChannels:
        if self.webhook_format == WebhookFormat.telegram and self.webhook_url is not None:
            query = parse_qs(urlsplit(self.webhook_url).query)
            if not query.get("chat_id"):
                raise ValidationError.from_exception_data(
                    type(self).__name__,
                    [
                        InitErrorDetails(
                            type=_bad(
                                "telegram_chat_id",
                                "a telegram webhook needs ?chat_id=<chat> in the URL, e.g. "
                                "https://api.telegram.org/bot<token>/sendMessage?chat_id=42",
                            ),
                            loc=("webhook_url",),
                            input=self.webhook_url,
                        )
                    ],
                )
        return self


class _Definition(_In):
    """An alert's definition, every field optional: ``AlertUpdate`` as it is, and what
    ``AlertCreate`` narrows (one list of fields, in the wire's order)."""

    name: Name | None = None
    symbol: Symbol | None = Field(default=None, max_length=SYMBOL_MAX_LENGTH)
    timeframe: TimeframeIn | None = None
    condition: ConditionIn | None = None
    level: Price | None = None
    lower: Price | None = None
    upper: Price | None = None
    amount: Price | None = None
    bars: Bars | None = None
    side: SideIn | None = None
    line_id: LineId | None = None
    distance: Price | None = None
    buffer: Buffer | None = None
    confirm_bars: ConfirmBars | None = None
    price_source: SourceIn | None = None
    frequency: FrequencyIn | None = None
    cooldown: Cooldown | None = None
    max_fires: MaxFires | None = None
    expires_at: Expiry | None = None
    message: Template | None = None
    channels: AlertChannels | None = None


class AlertCreate(_Definition):
    """A new alert. Which values a condition takes: ``REQUIRED_VALUES``/``OPTIONAL_VALUES``."""

    # required, or with a default (a subclass's field keeps its place in the field order)
    symbol: Symbol = Field(max_length=SYMBOL_MAX_LENGTH)
    timeframe: TimeframeIn
    condition: ConditionIn
    price_source: SourceIn = PriceSource.bid
    frequency: FrequencyIn = Frequency.once
    channels: AlertChannels = Field(default_factory=AlertChannels)

    @model_validator(mode="after")
    def _fits_condition(self) -> AlertCreate:
        problems = spec_problems(self.condition, self.frequency, self.price_source, vars(self))
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=_bad(kind, message), loc=(field,), input=getattr(self, field)
                    )
                    for field, kind, message in problems
                ],
            )
        if self.side is None and self.condition in SIDES:
            self.side = Side.either
        return self


class AlertUpdate(_Definition):
    """A partial change: only the fields sent change; ``null`` clears an optional one."""


class AlertHealth(BaseModel):
    """How an alert has been firing: fires in the last 24 h / 7 d / 30 d, the last fire, and
    the flags ``dormant`` (no fire in 30 days, for an alert at least that old) and ``chatty``
    (more than 10 fires in the last 24 hours)."""

    fires_24h: int
    fires_7d: int
    fires_30d: int
    last_fired_at: datetime | None = None
    dormant: bool
    chatty: bool


class AlertPublic(BaseModel):
    """An alert as the API returns it (no input checks: an expired alert's expiry is past)."""

    id: int
    name: str
    symbol: str
    timeframe: str
    condition: Condition
    level: float | None = None
    lower: float | None = None
    upper: float | None = None
    amount: float | None = None
    bars: int | None = None
    side: Side | None = None
    line_id: str | None = None
    distance: float | None = None
    buffer: float | None = None
    confirm_bars: int | None = None
    price_source: PriceSource
    frequency: Frequency
    cooldown: int | None = None
    max_fires: int | None = None
    expires_at: datetime | None = None
    message: str | None = None
    channels: AlertChannels
    status: AlertStatus
    status_reason: str | None = None
    created_at: datetime
    last_fired_at: datetime | None = None
    fire_count: int = 0
    health: AlertHealth | None = None


class AlertList(BaseModel):
    """The caller's alerts, with how many are active and how many the tier allows."""

    items: list[AlertPublic]
    active: int
    limit: int


class DeliveryPublic(BaseModel):
    """One channel's delivery of a fired alert: queued (email) or pending (webhook, retrying),
    then sent, failed, skipped or quarantined (no try can send it: set aside, the owner may
    release it) at ``done_at``, with the attempts made and the last error."""

    channel: str
    status: str
    attempts: int
    last_error: str | None = None
    response_status: int | None = None
    done_at: datetime | None = None


class AlertEventPublic(BaseModel):
    """A fired alert: a history row, and (without ``deliveries``) a stream ``alert`` event."""

    id: int
    alert_id: int | None
    symbol: str
    timeframe: str
    condition: str
    level: float | None
    price: float
    time: datetime
    message: str
    deliveries: list[DeliveryPublic] = Field(default_factory=list)


class AlertHistoryPage(BaseModel):
    """One page of fired alerts, newest first."""

    items: list[AlertEventPublic]
    page: int
    per_page: int
    total: int


def validate_alert(
    data: Mapping[str, Any] | AlertCreate,
    *,
    now: datetime,
    allow_insecure_loopback: bool = False,
) -> AlertCreate:
    """Validate a new alert against ``now`` (aware); raises pydantic's ValidationError."""
    raw = data.model_dump() if isinstance(data, AlertCreate) else data
    context = {"now": now, "allow_insecure_loopback": allow_insecure_loopback}
    return AlertCreate.model_validate(raw, context=context)


def merge_update(
    current: AlertCreate,
    update: AlertUpdate,
    *,
    now: datetime,
    allow_insecure_loopback: bool = False,
) -> AlertCreate:
    """The alert after ``update``, validated as a whole.

    When the condition changes, values the new condition does not take are dropped unless
    the update sends them (so ``{"condition": "entering_channel", "lower": …, "upper": …}``
    turns a level alert into a channel alert without nulling ``level``).
    """
    data = current.model_dump()
    patch = update.model_dump(exclude_unset=True)
    new_condition = patch.get("condition") or current.condition
    if new_condition != current.condition:
        keep = set(REQUIRED_VALUES[new_condition]) | set(OPTIONAL_VALUES[new_condition])
        for name in VALUE_FIELDS:
            if name not in keep:
                data[name] = None
        if "side" not in patch:
            data["side"] = None  # re-defaulted for the new condition
    data.update(patch)
    return validate_alert(data, now=now, allow_insecure_loopback=allow_insecure_loopback)
