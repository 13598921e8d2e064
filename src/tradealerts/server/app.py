"""The app factory: ``create_app(settings)`` builds everything; nothing exists at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Receive, Scope, Send

from tradealerts import __version__
from tradealerts.core.ingest import MAX_BODY_BYTES as INGEST_MAX_BODY_BYTES
from tradealerts.core.schemas import ErrorBody
from tradealerts.server.accounts import TIER_CHANGES
from tradealerts.server.alerts.guard import Resolver, WebhookGuard, system_resolver
from tradealerts.server.alerts.records import ALERT_CHANGES
from tradealerts.server.alerts.runtime import AlertRuntime
from tradealerts.server.api.deps import CallerCache
from tradealerts.server.api.market import IndicatorsFastPath
from tradealerts.server.billing import Billing, Gateway
from tradealerts.server.bodylimit import BodyLimitMiddleware
from tradealerts.server.db.migrate import upgrade
from tradealerts.server.db.session import make_engine, make_sessionmaker
from tradealerts.server.engine import Engine, wiring
from tradealerts.server.engine.owner_lines import OwnerLines
from tradealerts.server.engine.wiring import feed_options
from tradealerts.server.errors import RequestIdMiddleware, install_error_handlers
from tradealerts.server.events import Bus
from tradealerts.server.feeds import Feed, create_feed
from tradealerts.server.feedstate import FeedWatch
from tradealerts.server.incidents.setup import start_monitor
from tradealerts.server.incidents.signals import Signals
from tradealerts.server.ingest.check import too_large
from tradealerts.server.ingest.tokens import TokenCheck
from tradealerts.server.mail import Mailer
from tradealerts.server.proxies import TrustedProxies
from tradealerts.server.quota import Quota
from tradealerts.server.sessions import Revocations
from tradealerts.server.settings import Settings
from tradealerts.server.signups import Signups
from tradealerts.server.throttle import Throttle
from tradealerts.server.usage import Usage, UsageMiddleware

__all__ = ["TradeAlertsApp", "create_app", "feed_options"]

log = logging.getLogger("tradealerts.server")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _watch_feed(
    app: FastAPI, settings: Settings, market: Engine | None, clock: Callable[[], datetime]
) -> FeedWatch | None:
    """Each symbol's feed state for subscribers (issue #29), on this process's engine or
    mirror; health then counts a quiet closed market as ``closed``, not stale."""
    if market is None:
        return None
    watch = FeedWatch(
        market,
        app.state.bus,
        clock,
        overrides=settings.market_hours,
        delayed_after=settings.feed_delayed_seconds,
        every=settings.feed_check_seconds,
    )
    market.listeners.append(watch.listener)
    market.is_closed = watch.is_closed
    watch.start()
    return watch


class TradeAlertsApp(FastAPI):
    """The FastAPI app with the indicators fast path in front of its middleware stack.

    ``add_middleware`` can only put a middleware inside the four layers FastAPI builds around
    the user's (server errors, exception telemetry, body limit) and the request id, and those
    layers were a fifth of the fast path's time, which answers without them (its docstring
    says how it does their part). So the app asks the fast path first, before
    ``FastAPI.__call__`` builds or enters anything; whatever it leaves (everything but a
    common ``GET /api/indicators/…``) goes through the stack as before."""

    indicators: IndicatorsFastPath | None = None
    #: whose ``X-Forwarded-For`` names the client (``TRUSTED_PROXIES``): applied first, so
    #: the fast path, the routes and the access log all see the real client
    proxies: TrustedProxies | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.proxies is not None and scope["type"] in ("http", "websocket"):
            self.proxies.rewrite(scope)
        fast = self.indicators
        if fast is None or scope["type"] != "http" or not await fast(scope, send):
            await super().__call__(scope, receive, send)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: The error answers any route may give, documented once for all of them (the body is
#: ``errors.error_response``'s).
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("malformed request (the body is not JSON)"),
    401: _error("not logged in: no token, an expired one, or one of an ended session"),
    403: _error("the tier or the role does not allow it (``required_tier`` says which does)"),
    404: _error("no such resource (another user's is as unknown as a missing one)"),
    409: _error("conflicts with the current state"),
    429: _error("rate limited: see Retry-After"),
    503: _error("a part the request needs (market data, billing) is not available"),
}


def _operation_id(route: APIRoute) -> str:
    """Stable OpenAPI operation ids: the route function's name (``get_alert``), which the
    OpenAPI links between operations name. (Set per route after inclusion, it no longer
    reached the schema once FastAPI included routers lazily.)"""
    return route.name


def _publish_tier_changes(
    sessions: sessionmaker[Session], bus: Bus, loop: asyncio.AbstractEventLoop
) -> None:
    """Every tier change committed through ``sessions`` (``accounts.set_tier``: owner,
    billing, grace expiry) becomes the stream's ``tier`` event at once."""

    @event.listens_for(sessions, "after_commit")
    def _committed(session: Session) -> None:
        for user_id, tier in session.info.pop(TIER_CHANGES, ()):
            loop.call_soon_threadsafe(bus.tier, user_id, tier)

    @event.listens_for(sessions, "after_rollback")
    def _rolled_back(session: Session) -> None:
        session.info.pop(TIER_CHANGES, None)


def _publish_alert_changes(
    sessions: sessionmaker[Session], bus: Bus, loop: asyncio.AbstractEventLoop
) -> None:
    """Every alert change committed through ``sessions`` (``records``: the API, an alerts
    file, a tier change's pauses, a refused webhook) becomes the user's ``alerts_changed``
    event at once, one per user and commit, so every open TUI redraws what changed."""

    @event.listens_for(sessions, "after_commit")
    def _committed(session: Session) -> None:
        by_user: dict[int, list[int]] = {}
        for user_id, alert_id in session.info.pop(ALERT_CHANGES, ()):
            ids = by_user.setdefault(user_id, [])
            if alert_id not in ids:
                ids.append(alert_id)
        for user_id, ids in by_user.items():
            loop.call_soon_threadsafe(bus.alerts_changed, user_id, ids)

    @event.listens_for(sessions, "after_rollback")
    def _rolled_back(session: Session) -> None:
        session.info.pop(ALERT_CHANGES, None)


def _threadsafe(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> Callable[[], None]:
    """``fn`` (which touches the event loop's objects) callable from worker threads."""

    def call() -> None:
        loop.call_soon_threadsafe(fn)

    return call


def _billing(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    wake_mail: Callable[[], None],
) -> Billing | None:
    """Stripe billing when its settings are all there; else the routes answer 503."""
    if settings.billing_missing or settings.stripe_secret_key is None:
        log.info("billing off: set %s to sell PRO", ", ".join(settings.billing_missing))
        return None
    gateway = Gateway(settings.stripe_secret_key.get_secret_value(), settings.stripe_api_base)
    return Billing(settings, sessions, clock, gateway, wake_mail)


async def _sweep_grace(billing: Billing, every: float) -> None:
    """End the grace periods that are over (a past-due subscription's PRO)."""
    while True:
        await asyncio.sleep(every)
        try:
            moved = await asyncio.to_thread(billing.expire_grace)
            if moved:
                log.info("billing: %d past-due subscription(s) moved to FREE", moved)
        except Exception:
            log.exception("billing: grace sweep failed; retrying")


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = _utc_now,
    start_engine: bool = True,
    resolver: Resolver = system_resolver,
    feed: Feed | None = None,
) -> FastAPI:
    """The API app for ``settings``. ``clock`` is injectable so tests can expire tokens;
    ``resolver`` (host, port -> addresses) is what the webhook guard resolves names with;
    ``feed``: the market feed (default: the one ``settings.feed`` names, built at start)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # the requests' pool: a checkout waits db_pool_timeout_seconds at most, then 503
        engine = make_engine(settings.db_url, pool_timeout=settings.db_pool_timeout_seconds)
        upgrade(engine)
        app.state.db_engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.closing = anyio.CapacityLimiter(8)  # deps.get_session's off-loop closes
        # the alert log's own connections (its writer thread and the book's housekeeping):
        # a burst of requests that empties the pool above never delays a fire
        writer = make_engine(settings.db_url, pool_size=2, max_overflow=0)
        app.state.signing_key = settings.signing_key()
        await app.state.revocations.start(
            app.state.sessions, clock, settings.revocation_sync_seconds
        )
        if settings.scale_out:  # queued here, sent by the leading engine (one sender)
            from tradealerts.server.scale.api import BusMailer

            app.state.mailer = BusMailer(settings, app.state.sessions, clock, app.state.bus)
        else:
            app.state.mailer = Mailer(settings, app.state.sessions, clock)
        app.state.mailer.start()
        app.state.usage.start(app.state.sessions)
        app.state.loop = asyncio.get_running_loop()
        app.state.alerts = None
        app.state.incidents = None  # the owner's alerts: where the engine runs (issue #29)
        _publish_tier_changes(app.state.sessions, app.state.bus, app.state.loop)
        _publish_alert_changes(app.state.sessions, app.state.bus, app.state.loop)
        app.state.billing = _billing(
            settings, app.state.sessions, clock, _threadsafe(app.state.loop, app.state.mailer.wake)
        )
        sweep = (
            asyncio.create_task(_sweep_grace(app.state.billing, settings.billing_sweep_seconds))
            if app.state.billing is not None
            else None
        )
        owner: OwnerLines = app.state.owner_lines
        await asyncio.to_thread(wiring.load_owner_lines, owner, app.state.sessions)
        market: Engine | None = None
        scale = None
        if settings.scale_out:  # the API only: the engine runs elsewhere (issue #17)
            from tradealerts.server.scale.api import ApiRole

            scale = ApiRole(app, settings, wiring.stale_after(settings))
            market = await scale.start()
        elif start_engine:
            source = feed or create_feed(settings.feed, feed_options(settings))
            stale = wiring.stale_after(settings)
            market = Engine(source, history_bars=settings.history_for_feed(), stale_after=stale)
            market.market.make_indicators = owner.indicators  # the owner's lines, per series
            owner.market = market.market
            # The book is loaded and listening before the feed's first event: a replay fires
            # the same alerts at the same times, and no alert misses the first ticks.
            runtime = AlertRuntime(
                settings,
                app.state.sessions,
                app.state.bus,
                clock,
                app.state.mailer,
                writer=make_sessionmaker(writer),
            )
            count = await asyncio.to_thread(runtime.load)
            log.info("alerts: %d active", count)
            runtime.webhooks.guard = runtime.pushes.guard = app.state.webhook_guard
            market.listeners.append(runtime.listener(market.market))
            runtime.backpressure(market)
            market.listeners.append(wiring.publish_market(app.state.bus))
            app.state.alerts = runtime
            await market.start()
            runtime.start()
            app.state.incidents = start_monitor(
                settings,
                app.state.sessions,
                clock,
                engine=market,
                alerts=runtime,
                owner=owner,
                usage=app.state.usage,
                signals=app.state.signals,
                wake_mail=app.state.mailer.wake,
            )
            log.info(
                "engine %s: %s feed, %d series",
                market.state,
                settings.feed,
                len(market.market.series),
            )
        app.state.engine = market
        app.state.feedwatch = _watch_feed(app, settings, market, clock)
        await app.state.notices.start()  # the owner's maintenance notices (issue #29)
        wiring.settle_gc()
        try:
            yield
        finally:
            await app.state.notices.stop()
            if getattr(app.state, "replays", None) is not None:  # the backtests' process
                app.state.replays.close()
            if sweep is not None:
                sweep.cancel()
                await asyncio.gather(sweep, return_exceptions=True)
            # sign-ups under way store their accounts and queue their mails first
            await asyncio.to_thread(app.state.signups.close)
            if app.state.incidents is not None:
                await app.state.incidents.stop()
            if app.state.alerts is not None:
                await app.state.alerts.stop()
            if app.state.feedwatch is not None:
                await app.state.feedwatch.stop()
            if market is not None:
                await market.stop()
            await app.state.mailer.stop()
            await app.state.revocations.stop()
            await app.state.usage.stop()
            # unspent quota leases go back: other processes (and a restart) count them free
            await asyncio.to_thread(app.state.quota.close)
            if scale is not None:
                await scale.stop()
            engine.dispose()
            writer.dispose()

    app = TradeAlertsApp(
        title="tradealerts",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
        # FastAPI's OpenTelemetry hooks (on by default since 0.162) asked the global providers
        # on every request, a third of the indicator fast path's time; nothing here exports
        # telemetry, so they are off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.quota = Quota(settings.redis_url, settings.redis_prefix, settings.quota_lease_seconds)
    app.state.throttle = Throttle(settings.redis_url, settings.redis_prefix)
    app.state.signups = Signups()
    app.state.signals = Signals()  # Stripe failures, tick-to-stream times (incidents)
    if settings.scale_out:
        from tradealerts.server.scale.api import redis_bus

        app.state.bus = redis_bus(settings)
    else:
        app.state.bus = Bus(settings.stream_queue_size)
    app.state.revocations = Revocations(
        timedelta(minutes=settings.access_token_minutes),
        settings.redis_url,
        f"{settings.redis_prefix}:sessions-ended",
    )
    app.state.webhook_guard = WebhookGuard.from_settings(settings, resolver)
    # the bridge's posts on the server's clock, as the rest of what it stamps (the owner's
    # alerts count its silence on that clock)
    app.state.owner_lines = OwnerLines(
        settings.buffer_map, settings.lines, wall=lambda: clock().timestamp()
    )
    app.state.ingest_tokens = TokenCheck()
    app.state.callers = CallerCache(settings.caller_cache_seconds, app.state.revocations)
    app.state.usage = Usage(
        set(),
        flush_seconds=settings.usage_flush_seconds,
        usage_retention_days=settings.usage_retention_days,
        error_retention_days=settings.error_retention_days,
        clock=clock,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        push_seconds=settings.usage_push_seconds,
    )
    from tradealerts.server.notices import NoticeBoard

    app.state.notices = NoticeBoard(
        lambda: app.state.sessions, lambda: app.state.bus, clock, settings.notice_poll_seconds
    )
    install_error_handlers(app)
    ingest_limit = max(settings.max_body_bytes, INGEST_MAX_BODY_BYTES)
    # innermost of ours: its 413s carry the request id and are counted by the usage record
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        # the owner's ingest batches (5,000 bars x 8 buffers) need up to their own limit
        routes={"/api/ingest/": (ingest_limit, too_large(ingest_limit).message)},
    )
    app.add_middleware(UsageMiddleware)  # every request the fast path leaves to the stack
    app.add_middleware(RequestIdMiddleware)
    from tradealerts.server.api.notices import NoticeHeaderMiddleware

    app.add_middleware(NoticeHeaderMiddleware)  # X-TradeAlerts-Notice while one is current
    app.proxies = TrustedProxies(settings.trusted_proxies)
    app.indicators = IndicatorsFastPath(app.state)  # in front of the stack: TradeAlertsApp

    from tradealerts.server.api import (
        admin,
        alerts,
        auth,
        backtest,
        billing,
        channels,
        feedstate,
        market,
        notices,
        notifications,
        pages,
        stream,
        support,
        system,
        user,
        watchlist,
    )
    from tradealerts.server.ingest import route as ingest

    for module in (
        auth,
        market,
        feedstate,
        watchlist,
        alerts,
        backtest,
        channels,
        user,
        notifications,
        notices,
        support,
        system,
        admin,
        stream,
        billing,
        ingest,
    ):
        app.include_router(module.router, prefix="/api", responses=_ERRORS)
        # the usage aggregate's route families: /api/<family>/...
        app.state.usage.families.update(
            str(getattr(r, "path", "/")).split("/")[1] for r in module.router.routes
        )
    app.include_router(pages.router)
    app.include_router(billing.pages)
    from tradealerts.server import metrics

    metrics.install(app)
    return app
