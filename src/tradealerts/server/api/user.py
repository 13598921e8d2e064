"""/api/user: profile, preferences, email and password, billing summary, export, deletion."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from tradealerts.core.messages import _
from tradealerts.core.schemas import (
    AccountDelete,
    EmailChange,
    EmailVerify,
    Message,
    PasswordChange,
    Preferences,
    PreferencesUpdate,
    Profile,
    ProfileUpdate,
    UserPublic,
    WebhookSecret,
    from_row,
)
from tradealerts.core.tiers import limits_for
from tradealerts.server import accounts
from tradealerts.server.alerts import records
from tradealerts.server.alerts.channels import SIGNATURE_HEADER
from tradealerts.server.api.auth import checked
from tradealerts.server.api.deps import ClockDep, CurrentUser, SessionDep, SettingsDep
from tradealerts.server.db.models import (
    AlertRow,
    BillingAccount,
    Delivery,
    Event,
    Notification,
    PushChannel,
    SupportTicket,
    User,
    WatchlistItem,
)
from tradealerts.server.errors import Conflict, Invalid
from tradealerts.server.mail import templates
from tradealerts.server.security import verify_password

router = APIRouter(prefix="/user", tags=["user"])

_PREFS = (
    "theme",
    "chart_style",
    "language",
    "timezone",
    "analytics_opt_in",
    "marketing_opt_in",
    "alert_bell",
)


def public(user: User) -> UserPublic:
    return from_row(UserPublic, user)


def _check_password(request: Request, user: User, password: str, field: str = "password") -> None:
    # under the per-account back-off: a stolen session must not guess the password
    if not checked(request, user, lambda: verify_password(user.password_hash, password)):
        raise Invalid(
            _("{field}: the password is wrong.", field=field), field=field, code="wrong_password"
        )


@router.get("", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    """Who the token belongs to."""
    return public(user)


@router.get("/profile", response_model=Profile)
def get_profile(user: CurrentUser) -> Profile:
    return Profile(display_name=user.display_name, bio=user.bio)


@router.patch("/profile", response_model=Profile)
def update_profile(
    body: ProfileUpdate, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> Profile:
    """Change the display name and bio."""
    for key, value in body.model_dump(exclude_none=True).items():
        setattr(user, key, value)
    user.updated_at = clock()
    s.commit()
    return Profile(display_name=user.display_name, bio=user.bio)


def _prefs(user: User) -> Preferences:
    return Preferences(**{k: getattr(user, k) for k in _PREFS})


@router.get("/preferences", response_model=Preferences)
def get_preferences(user: CurrentUser) -> Preferences:
    return _prefs(user)


@router.patch("/preferences", response_model=Preferences)
def update_preferences(
    body: PreferencesUpdate, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> Preferences:
    """Appearance, language, time zone and privacy choices; each value is validated."""
    changes = body.model_dump(exclude_none=True)
    for key, value in changes.items():
        setattr(user, key, value)
    if "language" in changes:  # cached callers answer their refusals in it (deps.Caller)
        accounts.users_changed(s)
    user.updated_at = clock()
    s.commit()
    return _prefs(user)


@router.post("/email", status_code=202, response_model=Message)
def change_email(
    body: EmailChange, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> Message:
    """Start an email change: a code goes to the new address; the old one stays until then."""
    _check_password(request, user, body.password)
    new = str(body.new_email).lower()
    if accounts.find_user(s, new) is not None and new != user.email:
        raise Conflict(_("new_email: that address belongs to another account."), field="new_email")
    code = accounts.create_code(s, user, "email", clock(), new_email=new)
    if request.app.state.throttle.may_mail("email", new):  # no mail-bombing a stranger
        request.app.state.mailer.queue(
            s, new, *templates.email_change(code), language=user.language
        )
    s.commit()
    request.app.state.mailer.wake()
    return Message(
        message=_("A code was sent to {new}; confirm with /api/user/email/verify.", new=new)
    )


@router.post("/email/verify", response_model=UserPublic)
def confirm_email(
    body: EmailVerify, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> UserPublic:
    """Finish an email change with the code sent to the new address."""
    now = clock()
    result = accounts.CodeResult(False)

    def check() -> bool:
        nonlocal result
        result = accounts.check_code(s, user, "email", body.code, now)
        return result.ok

    if not checked(request, user, check) or result.new_email != str(body.email).lower():
        s.commit()
        raise Invalid(
            _("code: {value}.", value=result.reason or "the code is for another address"),
            field="code",
            code="invalid_code",
        )
    user.email = result.new_email
    user.updated_at = now
    s.commit()
    return public(user)


@router.post("/password", response_model=Message)
def change_password(
    body: PasswordChange, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> Message:
    """Change the password (the current one is required); other sessions are logged out."""
    _check_password(request, user, body.current_password, "current_password")
    problem = accounts.password_problem(body.new_password)
    if problem:
        raise Invalid(
            _("new_password: the password {problem}.", problem=problem), field="new_password"
        )
    keep = getattr(request.state, "session_id", None)  # this session goes on
    accounts.set_password(s, user, body.new_password, clock(), "changed", keep)
    s.commit()
    return Message(message=_("Password changed. Log in again on your other devices."))


@router.get("/billing")
def billing(user: CurrentUser, s: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """The plan, its limits and the Stripe subscription (as ``GET /api/subscription``)."""
    from tradealerts.server.billing import account_json

    lim = limits_for(user.tier)
    acct = s.scalar(select(BillingAccount).where(BillingAccount.user_id == user.id))
    sub = account_json(acct, user, settings.billing_grace_days)
    return {
        "tier": user.tier,
        "subscription_status": sub["status"],
        "subscription": sub,
        "price_usd_per_month": lim.price_usd_per_month,
        "limits": {
            "symbols": len(lim.symbols),
            "timeframes": len(lim.timeframes),
            "watchlist_items": lim.watchlist_items,
            "active_alerts": lim.active_alerts,
            "requests_per_hour": lim.requests_per_hour,
        },
    }


@router.get("/export")
def export(user: CurrentUser, s: SessionDep) -> dict[str, Any]:
    """Everything stored about the caller, as JSON (no password hash or 2FA secret)."""

    def rows(model: Any) -> list[dict[str, Any]]:
        out = []
        for r in s.scalars(select(model).where(model.user_id == user.id).order_by(model.id)):
            out.append(
                {
                    c.name: _json(getattr(r, c.name))
                    for c in model.__table__.columns
                    if c.name != "user_id"
                }
            )
        return out

    account = {
        c.name: _json(getattr(user, c.name))
        for c in User.__table__.columns
        if c.name not in ("password_hash", "totp_secret", "webhook_secret")
    }
    return {
        "account": account,
        "watchlist": rows(WatchlistItem),
        "alerts": rows(AlertRow),
        "alert_history": rows(Event),
        "alert_deliveries": rows(Delivery),
        "notifications": rows(Notification),
        "support_tickets": rows(SupportTicket),
        # the URLs hold services' tokens: masked here as everywhere (never the sealed form)
        "push_channels": [
            {k: v for k, v in row.items() if k != "url_secret"} for row in rows(PushChannel)
        ],
    }


@router.get("/webhook-secret", response_model=WebhookSecret)
def get_webhook_secret(user: CurrentUser, s: SessionDep) -> WebhookSecret:
    """The secret that signs your webhooks (made on first use): check each body's
    the Standard Webhooks headers with it (``webhook-signature``; see docs/api.md)."""
    secret = records.webhook_secret(s, user)
    s.commit()
    return WebhookSecret(secret=secret, header=SIGNATURE_HEADER)


@router.post("/webhook-secret/rotate", response_model=WebhookSecret)
def rotate_webhook_secret(user: CurrentUser, s: SessionDep) -> WebhookSecret:
    """Replace the webhook secret; deliveries from now on are signed with the new one."""
    secret = records.webhook_secret(s, user, rotate=True)
    s.commit()
    return WebhookSecret(secret=secret, header=SIGNATURE_HEADER)


def _json(v: Any) -> Any:
    return v.isoformat().replace("+00:00", "Z") if hasattr(v, "isoformat") else v


@router.delete("", status_code=204)
def delete_account(
    body: AccountDelete, request: Request, user: CurrentUser, s: SessionDep
) -> Response:
    """Delete the account and everything of it, in one transaction (password required)."""
    _check_password(request, user, body.password)
    accounts.delete_user(s, user)
    s.commit()
    return Response(status_code=204)


# The product plan's names for the routes above (documented aliases in docs/api.md):
# PUT takes the same partial body as PATCH; appearance, privacy and language are the
# preferences under the plan's screen names.
router.add_api_route(
    "/profile", update_profile, methods=["PUT"], response_model=Profile, name="put_profile"
)
for _alias in ("preferences", "appearance", "privacy", "language"):
    router.add_api_route(
        f"/{_alias}",
        update_preferences,
        methods=["PUT"],
        response_model=Preferences,
        name=f"put_{_alias}",
    )
router.add_api_route(
    "/account", delete_account, methods=["DELETE"], status_code=204, name="delete_user_account"
)
