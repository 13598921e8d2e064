"""The server's settings: one pydantic-settings object, env prefix ``TRADEALERTS_``."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tradealerts.core.ingest import BufferMap, LinesSource
from tradealerts.core.market_hours import MarketHoursError, parse_schedule
from tradealerts.core.timeframes import BarClock, BarClockError, parse_bar_clock
from tradealerts.server.proxies import parse_networks

__all__ = ["Settings"]

_PLACEHOLDERS = {"changeme", "change-me", "secret", "changethis", "password", "xxx"}

# the bounds most settings below share, each stated once (a value outside one is refused
# with pydantic's message naming the setting)
_Positive = Annotated[float, Field(gt=0)]
_NonNegative = Annotated[float, Field(ge=0)]
_Count = Annotated[int, Field(ge=1)]
_CountOrZero = Annotated[int, Field(ge=0)]


class Settings(BaseSettings):
    """Every flag of ``tradealerts-server serve`` is also a ``TRADEALERTS_*`` variable."""

    model_config = SettingsConfigDict(
        env_prefix="TRADEALERTS_", env_nested_delimiter="__", extra="ignore"
    )

    home: Path | None = Field(None, description="folder for data and config")
    database_url: str | None = Field(None, description="default: SQLite in the data folder")
    redis_url: str | None = None
    #: the prefix of every Redis key and channel of this deployment (several can share one)
    redis_prefix: str = "tradealerts"
    secret_key: SecretStr | None = Field(None, description="generated on first start if unset")
    smtp_url: SecretStr | None = Field(None, description="smtp://user:pass@host:port?starttls=1")
    mail_from: str = "tradealerts <noreply@tradealerts.local>"
    owner_email: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    feed: str = "synthetic"
    seed: int = 42
    tick_rate: float = 2.0
    history_bars: int | None = Field(None, description="default 5000 (synthetic), 500 (replay)")
    replay_speed: float = 1.0
    replay_symbol: str | None = None
    mt5_login: int | None = None
    mt5_password: SecretStr | None = None
    mt5_server: str | None = None
    mt5_path: str | None = None
    mt5_poll_interval: float = 0.25
    mt5_utc_offset: str = "auto"
    #: where H2…D1 bars open: ``UTC``, ``UTC+2``, ``America/New_York@17:00`` (the
    #: New-York-close convention of most MT5 brokers), or ``auto`` (MT5 only: the terminal's
    #: own bars); unset: ``auto`` with MT5, else ``UTC``
    bar_clock: str | None = None
    #: the replay file's naive times: ``UTC``, any bar-clock value, or ``bar_clock`` (an MT5
    #: export is in the broker's time)
    replay_tz: str = "UTC"
    symbol_map: dict[str, str] = Field(default_factory=dict)
    #: where lines come from: ``computed`` (our spec), ``mt5`` (the owner's indicator
    #: buffers, sent by the bridge EA), or per series: ``computed,EURUSD:H1=mt5``
    lines_source: str = "computed"
    #: what each of the owner's indicator buffers means (JSON, or the path of a JSON file)
    buffer_map: BufferMap = Field(default_factory=lambda: BufferMap())
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_price_id: str | None = None
    stripe_api_base: str | None = Field(None, description="a Stripe double's URL (tests)")
    #: how long a ``past_due`` subscription keeps PRO before the plan becomes FREE
    billing_grace_days: _CountOrZero = 3
    #: how often the server looks for grace periods that have ended
    billing_sweep_seconds: _Positive = 60.0
    #: owner-approved webhook destinations that the SSRF guard would refuse: host names and
    #: address ranges (CIDR), e.g. ``["hooks.internal", "10.20.0.0/16"]``; plain http is
    #: then allowed to loopback ones
    webhook_allowlist: list[str] = Field(default_factory=list)
    #: shorthand: allow-list loopback and private ranges (never link-local or metadata)
    allow_private_webhooks: bool = False
    rate_limits_enabled: bool = True
    #: reverse proxies whose ``X-Forwarded-For`` names the client (addresses or CIDR ranges,
    #: JSON or comma-separated); per-address limits and lock-outs count the address it names.
    #: Others' ``X-Forwarded-For`` is ignored. Default: loopback (a proxy on this machine).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"]
    )
    #: with REDIS_URL: an API process gives back the quota it reserved ahead for a user and
    #: did not spend after this many seconds without a request of theirs (docs/architecture.md)
    quota_lease_seconds: _Positive = 2.0
    #: owner-only: accounts exempt from the hourly quota (benchmarks, monitoring)
    unlimited_emails: list[str] = Field(default_factory=list)
    access_token_minutes: int = 15
    #: a refresh token used again this soon after its rotation gets the same new pair (a
    #: client that lost the answer retries); later, reuse ends the session
    refresh_grace_seconds: float = 30.0
    #: how often each API process re-reads ended sessions from the database (Redis, when
    #: set, tells it at once; this is the safety net and the path without Redis)
    revocation_sync_seconds: float = 1.0
    #: how long a data request may use a cached copy of its user (tier, existence); a tier
    #: change made in this process applies at once, one made by another process within this
    caller_cache_seconds: float = 1.0
    #: the longest a request waits for a database connection; past it the answer is 503
    #: ``database_busy`` with Retry-After (well under a client's timeout)
    db_pool_timeout_seconds: _Positive = 3.0
    #: the largest request body read (bytes; the owner's ingest route allows its own 2 MiB);
    #: a bigger Content-Length is refused 413 before reading, a bigger stream at this byte.
    #: The reverse proxy should say the same (docs/deploy.md: client_max_body_size).
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    event_retention_days: int = 90
    #: per user: alert emails beyond this in an hour are skipped (logged in the history)
    alert_emails_per_hour: int = 20
    #: how often the engine reads alert changes made by other processes, and expires alerts
    alert_sync_seconds: float = 1.0
    #: fires and status changes that may wait for the alert log (the database is down or
    #: slow) while the engine goes on matching; past it the engine pauses until they are
    #: written
    alert_backlog_limit: int = 10_000
    #: the longest wait between two attempts to write the alert log (back-off from 0.1 s)
    alert_retry_max_seconds: float = 5.0
    #: how often the mail worker looks for due mails (retries after a failed send); a mail
    #: queued in this process, or announced over the bus when scaled out, wakes it at once
    mail_poll_seconds: _Positive = 5.0
    #: httpx's per-phase timeout (connect, each read, each write) of one webhook call
    webhook_timeout_seconds: float = 5.0
    webhook_retry_hours: float = 24.0
    #: the whole webhook call (resolve, connect, send, the answer's headers and the capped
    #: read of its body) within this, however the receiver drips its bytes
    webhook_deadline_seconds: float = 10.0
    #: at most this much of a webhook answer's body is read; the connection is then closed
    webhook_response_cap_bytes: int = 65536
    #: webhook calls in flight at once, in all
    webhook_concurrency: int = 64
    #: ... and per owner, and per owner's destination (scheme, host, port): a slow receiver
    #: holds only its owner's slots
    webhook_per_owner: int = 4
    webhook_per_destination: int = 2
    #: push channels (Apprise, synchronous): threads sending at once, in all; each push's
    #: whole call is bounded by ``push_deadline_seconds``; slots per owner and per channel,
    #: retries and their back-off are the webhooks' settings above
    push_threads: int = 16
    push_deadline_seconds: float = 10.0
    stream_heartbeat_seconds: float = 15.0
    #: how often each process re-reads the maintenance notices (``admin announce``)
    notice_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    stream_queue_size: int = 1000
    #: on SIGTERM, open streams get a ``reconnect`` frame at once; this bounds the wait for
    #: requests still running after that
    shutdown_grace_seconds: float = 10.0
    #: the usage aggregate is written to the database this often (and at shutdown)
    usage_flush_seconds: float = 10.0
    #: with a Redis URL (scaled out), each process pushes its usage counts to Redis this often
    usage_push_seconds: float = 1.0
    usage_retention_days: int = 90
    error_retention_days: int = 30
    #: /metrics (Prometheus) is off unless this is set; without ``metrics_token`` it answers
    #: loopback clients only
    metrics_enabled: bool = False
    metrics_token: SecretStr | None = None
    #: scaled out (issue #17): ``serve`` runs the API only and reads the engine's Redis
    #: Streams (needs ``redis_url``); ``tradealerts-server engine`` runs the market side
    scale_out: bool = False
    #: API processes ``serve`` starts on its port (scale-out only: one engine per deployment)
    workers: _Count = 1
    #: each bus stream is capped near this many entries (``XADD MAXLEN ~``)
    bus_maxlen: int = Field(100_000, ge=1000)
    #: the engine lease's life: a standby takes over this long after the leader's last renewal
    lease_seconds: float = Field(5.0, gt=0.5)
    #: how often the engine writes its market snapshot for API processes that (re)start
    snapshot_seconds: _Positive = 5.0
    # -- owner alerts (issue #29, server/incidents; docs/owner-guide.md "Monitoring and
    # incidents"): each threshold below opens one incident, mailed to ``owner_email``
    #: how often the engine's process checks the conditions (0 turns owner alerts off)
    incident_check_seconds: _NonNegative = 15.0
    #: an open incident is mailed again this often until it recovers
    incident_remind_minutes: _Positive = 60.0
    #: a condition must hold this long before it opens an incident (a blip is not one)
    incident_grace_seconds: _NonNegative = 60.0
    #: closed incidents ``admin incidents`` lists besides the open ones
    incident_recent_days: _CountOrZero = 7
    #: a symbol whose market is open and that had no tick for this long is stale
    incident_feed_stale_seconds: _Positive = 300.0
    #: a series the owner's bridge serves (lines source mt5) is silent after this many of
    #: its bars without a post (while its market is open)
    incident_bridge_silent_bars: _Count = 3
    #: the share of 5xx answers over ``incident_window_seconds`` (with at least
    #: ``incident_5xx_min_requests`` requests) that opens an incident
    incident_5xx_ratio: float = Field(0.05, gt=0, le=1)
    incident_5xx_min_requests: _Count = 20
    #: the window the rates (5xx, Stripe webhook failures, tick-to-stream p99) are taken over
    incident_window_seconds: _Positive = 300.0
    #: tick to stream frame, 99th percentile over the window
    incident_stream_p99_seconds: _Positive = 2.0
    #: the engine's time on one feed event
    incident_engine_lag_seconds: _Positive = 1.0
    #: mails not yet sent / webhook deliveries pending
    incident_mail_queue_depth: _Count = 200
    incident_webhook_queue_depth: _Count = 1000
    #: free space under the data folder, in MiB
    incident_disk_free_mb: _NonNegative = 1024.0
    #: scaled out: standby engines expected besides the leader (0: none expected)
    incident_standbys: _CountOrZero = 1
    log_level: str = "INFO"
    demo: bool = False
    #: per-symbol market hours over the asset-class defaults (issue #29), JSON
    #: ``{"SYMBOL": "SPEC"}``; a SPEC is ``24/7``, an asset class (``forex``, ``metal``,
    #: ``index``, ``crypto``) or ``Sun 17:00 - Fri 17:00 America/New_York, break 17:00-18:00``
    #: (zone UTC when left out); see core/market_hours.py and docs/owner-guide.md
    market_hours: dict[str, str] = Field(default_factory=dict)
    #: the synthetic and replay feeds send nothing while a symbol's market is closed (off by
    #: default, so the demo ticks every day of the week)
    feed_market_hours: bool = False
    #: a symbol whose market is open by its schedule and whose last data is older than this
    #: is ``delayed`` to subscribers (the ``feed`` stream event, ``GET /api/feed``)
    feed_delayed_seconds: _Positive = 60.0
    #: how often each process re-evaluates every symbol's feed state
    feed_check_seconds: _Positive = 1.0

    @field_validator("market_hours")
    @classmethod
    def _market_hours(cls, v: dict[str, str]) -> dict[str, str]:
        out = {}
        for symbol, spec in v.items():
            try:
                parse_schedule(spec)
            except MarketHoursError as exc:
                raise ValueError(f"TRADEALERTS_MARKET_HOURS[{symbol}]: {exc}") from None
            out[symbol.upper()] = spec
        return out

    @field_validator("secret_key")
    @classmethod
    def _no_placeholder(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value().strip().lower() in _PLACEHOLDERS:
            raise ValueError("TRADEALERTS_SECRET_KEY is a placeholder: set a long random value")
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("TRADEALERTS_SECRET_KEY must be at least 32 characters")
        return v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = json.loads(v) if v.lstrip().startswith("[") else v.split(",")
        parse_networks(v)  # a typo must stop the start, not trust nobody (or everybody)
        return [str(e).strip() for e in v if str(e).strip()]

    @field_validator("bar_clock")
    @classmethod
    def _bar_clock(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_bar_clock(v, allow_auto=True)
            except BarClockError as exc:
                raise ValueError(f"TRADEALERTS_BAR_CLOCK: {exc}") from None
        return v

    @field_validator("replay_tz")
    @classmethod
    def _replay_tz(cls, v: str) -> str:
        if v.strip().lower() != "bar_clock":
            try:
                parse_bar_clock(v)
            except BarClockError as exc:
                raise ValueError(
                    f"TRADEALERTS_REPLAY_TZ: {exc}, or bar_clock (the same as the bar clock)"
                ) from None
        return v

    @model_validator(mode="after")
    def _auto_needs_mt5(self) -> Settings:
        if (self.bar_clock or "").strip().lower() == "auto" and not self.feed.startswith("mt5"):
            raise ValueError(
                "TRADEALERTS_BAR_CLOCK auto needs the MT5 feed (the terminal's bars decide): "
                f"with feed {self.feed!r} set UTC, UTC+2 or America/New_York@17:00"
            )
        return self

    @property
    def clock(self) -> BarClock | None:
        """The bar clock, parsed; None for ``auto`` (the MT5 terminal's own)."""
        v = self.bar_clock
        if v is None:
            return None if self.feed.startswith("mt5") else parse_bar_clock("UTC")
        return None if v.strip().lower() == "auto" else parse_bar_clock(v)

    @property
    def replay_clock(self) -> BarClock | None:
        """The clock of a replay file's naive times (None: UTC, as before)."""
        if self.replay_tz.strip().lower() == "bar_clock":
            return self.clock
        clock = parse_bar_clock(self.replay_tz)
        return None if clock.is_utc else clock

    @field_validator("lines_source")
    @classmethod
    def _lines_source(cls, v: str) -> str:
        LinesSource.parse(v)
        return v

    @field_validator("buffer_map", mode="before")
    @classmethod
    def _buffer_map_file(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        try:  # JSON (the flag; the variable is parsed before this), or a JSON file's path
            if v.lstrip().startswith("{"):
                return json.loads(v)
            return json.loads(Path(v).expanduser().read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the buffer map {v!r}: {exc}") from None

    @property
    def lines(self) -> LinesSource:
        """``lines_source``, parsed."""
        return LinesSource.parse(self.lines_source)

    @property
    def data_dir(self) -> Path:
        """Where the database, the secret key and the mail outbox live."""
        return Path(self.home) if self.home else Path(platformdirs.user_data_dir("tradealerts"))

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'server.db'}"

    @property
    def billing_missing(self) -> list[str]:
        """The Stripe settings billing still needs (empty: billing is on)."""
        need = {
            "TRADEALERTS_STRIPE_SECRET_KEY": self.stripe_secret_key,
            "TRADEALERTS_STRIPE_WEBHOOK_SECRET": self.stripe_webhook_secret,
            "TRADEALERTS_STRIPE_PRICE_ID": self.stripe_price_id,
        }
        return [name for name, value in need.items() if not value]

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    def history_for_feed(self) -> int:
        """Bars of history to load: 500 for a replay file's first part, else 5000."""
        if self.history_bars is not None:
            return self.history_bars
        return 500 if self.feed.startswith("replay:") else 5000

    def signing_key(self) -> str:
        """The JWT key: the setting, or one generated once and kept 0600 in the data folder."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
