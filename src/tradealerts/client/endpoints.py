"""Every API endpoint the client uses, as a typed ``Call``: ``client.run(endpoints.me())``.

Built once here, sent by the sync or the async client alike. The response models are imported
when an answer is parsed, not here: building every pydantic model of the API costs a
short-lived command more than its request does.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from tradealerts.client._flow import Call

if TYPE_CHECKING:
    from tradealerts.core.alerts.conditions import AlertStatus, Condition
    from tradealerts.core.alerts.plans import AlertBulk, AlertBulkResult, AlertClone, AlertPlan
    from tradealerts.core.alerts.schemas import (
        AlertCreate,
        AlertHistoryPage,
        AlertList,
        AlertPublic,
        AlertUpdate,
    )
    from tradealerts.core.push import ChannelList, ChannelPublic, ChannelTested
    from tradealerts.core.schemas import (
        Message,
        NotificationPage,
        NotificationPublic,
        Preferences,
        PreferencesUpdate,
        Profile,
        SupportPublic,
        SymbolsPublic,
        TokenPair,
        TotpSetup,
        UserPublic,
        WatchlistItemPublic,
    )

Json = dict[str, Any]
_API = "tradealerts.core.schemas"
_ALERTS = "tradealerts.core.alerts.schemas"
_ALERT_PLANS = "tradealerts.core.alerts.plans"
_PLAN_MODELS = frozenset({"AlertBulkResult", "AlertPlan"})


def _model_class(name: str) -> Any:
    module = (
        (_ALERT_PLANS if name in _PLAN_MODELS else _ALERTS) if name.startswith("Alert") else _API
    )
    return getattr(importlib.import_module(module), name)


def _model(name: str) -> Callable[[httpx.Response], Any]:
    """Parse the answer as the named core schema (imported on first use)."""
    return lambda r: _model_class(name).model_validate_json(r.content)


def _list(name: str) -> Callable[[httpx.Response], Any]:
    def parse(r: httpx.Response) -> Any:
        from pydantic import TypeAdapter

        items: Any = list[_model_class(name)]  # type: ignore[misc]
        return list(TypeAdapter(items).validate_json(r.content))

    return parse


def _json(r: httpx.Response) -> Json:
    data = r.json()
    return data if isinstance(data, dict) else {"items": data}


def _none(_: httpx.Response) -> None:
    return None


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


# -- auth (no token) -------------------------------------------------------------------
def register(email: str, password: str, display_name: str = "") -> Call[Message]:
    body = {"email": email, "password": password, "display_name": display_name}
    return Call("POST", "/api/auth/register", _model("Message"), json=body, auth=False)


def verify_email(email: str, code: str) -> Call[Message]:
    body = {"email": email, "code": code}
    return Call("POST", "/api/auth/verify-email", _model("Message"), json=body, auth=False)


def resend_verification(email: str) -> Call[Message]:
    body = {"email": email}
    return Call("POST", "/api/auth/resend-verification", _model("Message"), json=body, auth=False)


def login(
    email: str, password: str, remember: bool = False, otp: str | None = None
) -> Call[TokenPair]:
    body = {"email": email, "password": password, "remember": remember, "otp": otp}
    return Call("POST", "/api/auth/login", _model("TokenPair"), json=body, auth=False)


def logout(refresh_token: str) -> Call[None]:
    body = {"refresh_token": refresh_token}
    return Call("POST", "/api/auth/logout", _none, json=body, auth=False)


def totp_setup() -> Call[TotpSetup]:
    return Call("POST", "/api/auth/2fa/setup", _model("TotpSetup"))


def totp_enable(code: str) -> Call[Message]:
    return Call("POST", "/api/auth/2fa/enable", _model("Message"), json={"code": code})


def totp_disable(password: str, code: str) -> Call[Message]:
    body = {"password": password, "code": code}
    return Call("POST", "/api/auth/2fa/disable", _model("Message"), json=body)


# -- user ------------------------------------------------------------------------------
def me() -> Call[UserPublic]:
    return Call("GET", "/api/user", _model("UserPublic"))


def profile() -> Call[Profile]:
    return Call("GET", "/api/user/profile", _model("Profile"))


def preferences() -> Call[Preferences]:
    return Call("GET", "/api/user/preferences", _model("Preferences"))


def update_preferences(update: PreferencesUpdate) -> Call[Preferences]:
    body = update.model_dump(exclude_none=True)
    return Call("PATCH", "/api/user/preferences", _model("Preferences"), json=body)


def update_profile(**fields: str) -> Call[Profile]:
    return Call("PATCH", "/api/user/profile", _model("Profile"), json=fields)


def change_password(current: str, new: str) -> Call[Message]:
    body = {"current_password": current, "new_password": new}
    return Call("POST", "/api/user/password", _model("Message"), json=body)


def change_email(new_email: str, password: str) -> Call[Message]:
    body = {"new_email": new_email, "password": password}
    return Call("POST", "/api/user/email", _model("Message"), json=body)


def confirm_email(email: str, code: str) -> Call[UserPublic]:
    body = {"email": email, "code": code}
    return Call("POST", "/api/user/email/verify", _model("UserPublic"), json=body)


def billing() -> Call[Json]:
    return Call("GET", "/api/user/billing", _json)


def export() -> Call[Json]:
    return Call("GET", "/api/user/export", _json)


def delete_account(password: str) -> Call[None]:
    return Call("DELETE", "/api/user", _none, json={"password": password})


# -- billing ---------------------------------------------------------------------------
def plans() -> Call[Json]:
    return Call("GET", "/api/plans", _json, auth=False)


def checkout() -> Call[Json]:
    return Call("POST", "/api/checkout", _json)


def subscription() -> Call[Json]:
    return Call("GET", "/api/subscription", _json)


def subscription_upgrade() -> Call[Json]:
    return Call("PUT", "/api/subscription/upgrade", _json)


def subscription_cancel() -> Call[Json]:
    return Call("PUT", "/api/subscription/cancel", _json)


def subscription_resume() -> Call[Json]:
    return Call("PUT", "/api/subscription/resume", _json)


def invoices() -> Call[list[Json]]:
    def parse(r: httpx.Response) -> list[Json]:
        data = r.json()
        return [dict(x) for x in data] if isinstance(data, list) else []

    return Call("GET", "/api/invoices", parse)


def billing_portal() -> Call[Json]:
    return Call("POST", "/api/billing/portal", _json)


# -- market ----------------------------------------------------------------------------
def symbols() -> Call[SymbolsPublic]:
    return Call("GET", "/api/symbols", _model("SymbolsPublic"))


def indicators(symbol: str, timeframe: str, bars: int = 300) -> Call[Json]:
    path = f"/api/indicators/{symbol}/{timeframe}"
    return Call("GET", path, _json, params={"bars": bars})


def feed() -> Call[Json]:
    """Each symbol's feed state: ``{"symbols": [{symbol, state, since, …}]}`` (issue #29)."""
    return Call("GET", "/api/feed", _json)


@dataclass(frozen=True)
class Tagged:
    """A conditional answer: the payload and its ``ETag``, or ``payload is None`` when the
    server answered 304 (what the caller holds under ``etag`` is still current)."""

    etag: str | None
    payload: Json | None


def indicators_if_changed(
    symbol: str, timeframe: str, bars: int = 300, etag: str | None = None
) -> Call[Tagged]:
    """``indicators`` with ``If-None-Match: etag``: a 304 sends no body and is not parsed."""

    def parse(r: httpx.Response) -> Tagged:
        if r.status_code == 304:
            return Tagged(r.headers.get("ETag", etag), None)
        return Tagged(r.headers.get("ETag"), _json(r))

    path = f"/api/indicators/{symbol}/{timeframe}"
    headers = {"If-None-Match": etag} if etag else {}
    return Call("GET", path, parse, params={"bars": bars}, headers=headers)


# -- watchlist -------------------------------------------------------------------------
def watchlist() -> Call[list[WatchlistItemPublic]]:
    return Call("GET", "/api/watchlist", _list("WatchlistItemPublic"))


def watchlist_add(symbol: str, timeframe: str) -> Call[WatchlistItemPublic]:
    body = {"symbol": symbol, "timeframe": timeframe}
    return Call("POST", "/api/watchlist", _model("WatchlistItemPublic"), json=body)


def watchlist_remove(item_id: int) -> Call[None]:
    return Call("DELETE", f"/api/watchlist/{item_id}", _none)


# -- push channels ---------------------------------------------------------------------
def _push(name: str) -> Callable[[httpx.Response], Any]:
    """Parse the answer as a ``core.push`` schema (imported on first use)."""

    def parse(r: httpx.Response) -> Any:
        return getattr(importlib.import_module("tradealerts.core.push"), name).model_validate_json(
            r.content
        )

    return parse


def channels() -> Call[ChannelList]:
    return Call("GET", "/api/channels", _push("ChannelList"))


def channel_add(name: str, url: str, default: bool = False) -> Call[ChannelPublic]:
    body = {"name": name, "url": url, "default": default}
    return Call("POST", "/api/channels", _push("ChannelPublic"), json=body)


def channel_remove(name: str) -> Call[None]:
    return Call("DELETE", f"/api/channels/{name}", _none)


def channel_test(name: str) -> Call[ChannelTested]:
    return Call("POST", f"/api/channels/{name}/test", _push("ChannelTested"))


# -- alerts ----------------------------------------------------------------------------
def alerts(
    status: AlertStatus | str | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    condition: Condition | str | None = None,
) -> Call[AlertList]:
    """The user's alerts, filtered by any of a status, a pair and a condition (an enum member
    or its value)."""
    params = _clean(
        {"status": status, "symbol": symbol, "timeframe": timeframe, "condition": condition}
    )
    return Call("GET", "/api/alerts", _model("AlertList"), params=params)


def alert(alert_id: int) -> Call[AlertPublic]:
    return Call("GET", f"/api/alerts/{alert_id}", _model("AlertPublic"))


def alert_create(alert: AlertCreate) -> Call[AlertPublic]:
    body = alert.model_dump(mode="json", exclude_none=True)
    return Call("POST", "/api/alerts", _model("AlertPublic"), json=body)


def alert_update(alert_id: int, update: AlertUpdate) -> Call[AlertPublic]:
    body = update.model_dump(mode="json", exclude_unset=True)
    return Call("PATCH", f"/api/alerts/{alert_id}", _model("AlertPublic"), json=body)


def alert_clone(alert_id: int, clone: AlertClone) -> Call[AlertPublic]:
    body = clone.model_dump(mode="json", exclude_none=True)
    return Call("POST", f"/api/alerts/{alert_id}/clone", _model("AlertPublic"), json=body)


def alerts_bulk(bulk: AlertBulk) -> Call[AlertBulkResult]:
    body = bulk.model_dump(mode="json", exclude_none=True)
    return Call("POST", "/api/alerts/bulk", _model("AlertBulkResult"), json=body)


def alerts_apply(
    entries: list[dict[str, Any]], *, prune: bool = False, dry_run: bool = False
) -> Call[AlertPlan]:
    body = {"alerts": entries, "prune": prune, "dry_run": dry_run}
    return Call("POST", "/api/alerts/apply", _model("AlertPlan"), json=body)


#: Alerts one backtest request may hold (the server's bound, BT_CONTRACT / api.md).
BACKTEST_BATCH = 100
#: Seconds a backtest's answer may take: the server replays thousands of bars, one replay
#: at a time (others queue), so it may take far longer than an ordinary call.
BACKTEST_TIMEOUT = 180.0


def alert_backtest(alert: AlertCreate, bars: int | None = None) -> Call[Json]:
    """When ``alert`` would have fired over the last ``bars`` held bars (the server's
    default window when None): the result as the server gives it (``fires``, ``count``,
    ``verdict``, ``note`` …). Sent nested, so a movement condition's own ``bars`` is not
    mistaken for the window."""
    body: Json = {"alert": alert.model_dump(mode="json", exclude_none=True)}
    if bars is not None:
        body["bars"] = bars
    return Call("POST", "/api/alerts/backtest", _json, json=body, read_timeout=BACKTEST_TIMEOUT)


def alert_backtest_stored(alert_id: int, bars: int | None = None) -> Call[Json]:
    """The backtest of one of the caller's stored alerts, as it is."""
    body: Json = {"alert_id": alert_id}
    if bars is not None:
        body["bars"] = bars
    return Call("POST", "/api/alerts/backtest", _json, json=body, read_timeout=BACKTEST_TIMEOUT)


def alerts_backtest(entries: list[dict[str, Any]], bars: int | None = None) -> Call[Json]:
    """Up to ``BACKTEST_BATCH`` alerts (create bodies, e.g. an alerts file's entries) in one
    request: ``{"results": [...], "server_ms": ...}``, in the order given."""
    body: Json = {"alerts": entries}
    if bars is not None:
        body["bars"] = bars
    return Call("POST", "/api/alerts/backtest", _json, json=body, read_timeout=BACKTEST_TIMEOUT)


def alert_delete(alert_id: int) -> Call[None]:
    return Call("DELETE", f"/api/alerts/{alert_id}", _none)


def alert_pause(alert_id: int) -> Call[AlertPublic]:
    return Call("POST", f"/api/alerts/{alert_id}/pause", _model("AlertPublic"))


def alert_resume(alert_id: int) -> Call[AlertPublic]:
    return Call("POST", f"/api/alerts/{alert_id}/resume", _model("AlertPublic"))


def alert_history(
    alert_id: int | None = None,
    symbol: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Call[AlertHistoryPage]:
    params = _clean(
        {
            "alert_id": alert_id,
            "symbol": symbol,
            "since": since,
            "until": until,
            "page": page,
            "per_page": per_page,
        }
    )
    return Call("GET", "/api/alerts/history", _model("AlertHistoryPage"), params=params)


# -- notifications and support ---------------------------------------------------------
def notifications(
    page: int = 1, per_page: int = 20, unread_only: bool = False
) -> Call[NotificationPage]:
    params = {"page": page, "per_page": per_page, "unread_only": unread_only}
    return Call("GET", "/api/notifications", _model("NotificationPage"), params=params)


def notices() -> Call[Json]:
    """The owner's current maintenance notices: ``{"notices": [...]}``."""
    return Call("GET", "/api/notices", _json)


def notification_read(notification_id: int) -> Call[NotificationPublic]:
    path = f"/api/notifications/{notification_id}/read"
    return Call("POST", path, _model("NotificationPublic"))


def notifications_read_all() -> Call[None]:
    return Call("POST", "/api/notifications/read-all", _none)


def notification_delete(notification_id: int) -> Call[None]:
    return Call("DELETE", f"/api/notifications/{notification_id}", _none)


def support(subject: str, body: str) -> Call[SupportPublic]:
    payload = {"subject": subject, "body": body}
    return Call("POST", "/api/support", _model("SupportPublic"), json=payload)


def support_tickets() -> Call[list[SupportPublic]]:
    return Call("GET", "/api/support", _list("SupportPublic"))


# -- the owner's dashboard (administrators only: 403 otherwise) ---------------------------
def admin_analytics() -> Call[Json]:
    return Call("GET", "/api/admin/analytics", _json)


def admin_revenue() -> Call[Json]:
    return Call("GET", "/api/admin/revenue", _json)


def admin_api_usage(hours: int = 24) -> Call[Json]:
    return Call("GET", "/api/admin/api-usage", _json, params={"hours": hours})


def admin_error_logs(after_id: int = 0, limit: int = 50) -> Call[Json]:
    params = {"after_id": after_id, "limit": limit}
    return Call("GET", "/api/admin/error-logs", _json, params=params)


def admin_incidents() -> Call[Json]:
    """The owner's open and recent incidents (issue #29)."""
    return Call("GET", "/api/admin/incidents", _json)
