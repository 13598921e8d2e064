"""/api/auth: register, verify, login, refresh, logout, password reset, TOTP 2FA."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

import pyotp
from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.exc import IntegrityError

from tradealerts.core.messages import _
from tradealerts.core.schemas import (
    EmailVerify,
    ForgotPassword,
    LoginRequest,
    Message,
    RefreshRequest,
    RegisterRequest,
    ResetPassword,
    TokenPair,
    TotpCode,
    TotpDisable,
    TotpSetup,
)
from tradealerts.server import accounts
from tradealerts.server.api.deps import ClockDep, CurrentUser, SessionDep, client_ip
from tradealerts.server.db.models import User
from tradealerts.server.errors import ApiError, Invalid, NotLoggedIn, TooManyRequests
from tradealerts.server.language import request_language
from tradealerts.server.mail import Mailer, templates
from tradealerts.server.security import hash_password, issue_access_token, verify_password
from tradealerts.server.signups import Signups
from tradealerts.server.throttle import Throttle, password_epoch


async def _no_store(response: Response) -> None:
    # token pairs and 2FA secrets must not stay in a browser's or a proxy's cache
    response.headers["Cache-Control"] = "no-store"


router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[Depends(_no_store)])

_SENT = _("If the address can receive mail, a code is on its way.")
#: the one answer to a wrong code, whatever the reason and whether the account exists:
#: the verify and reset routes must not tell a stranger which addresses have accounts
WRONG_CODE = _("code: the code is wrong, used or expired; ask for a new one if it keeps failing.")


def _mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


MailerDep = Annotated[Mailer, Depends(_mailer)]


def _abuse(request: Request, action: str) -> None:
    wait = request.app.state.throttle.abuse(action, client_ip(request))
    if wait is not None:
        raise TooManyRequests(
            _("Too many requests from your address; try again in {wait} s.", wait=wait),
            headers={"Retry-After": str(wait)},
        )


def _throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.throttle
    return throttle


def checked(request: Request, user: User, check: Callable[[], bool]) -> bool:
    """Run one password or 2FA check of a logged-in user under the back-off of
    ``Throttle.check_failed``: 429 while it holds, and a wrong answer counts."""
    throttle = _throttle(request)
    epoch = password_epoch(user.password_hash)
    wait = throttle.check_blocked(user.id, epoch)
    if wait is not None:
        raise TooManyRequests(
            _("Too many wrong passwords or codes; try again in {wait} s.", wait=wait),
            headers={"Retry-After": str(wait)},
        )
    ok = check()
    if not ok:
        throttle.check_failed(user.id, epoch)
    return ok


def _wrong_code() -> Invalid:
    return Invalid(WRONG_CODE, field="code", code="invalid_code")


def _password_ok(field: str, password: str) -> None:
    problem = accounts.password_problem(password)
    if problem:
        raise Invalid(
            _("{field}: the password {problem}.", field=field, problem=problem), field=field
        )


def _tokens(
    request: Request,
    s: SessionDep,
    user: User,
    now: datetime,
    remember: bool,
    rotation: accounts.Rotation | None = None,
) -> TokenPair:
    """A login's (or a rotation's) token pair; the access token names the session."""
    settings = request.app.state.settings
    if rotation is None:
        token, refresh_expires, session_id = accounts.issue_refresh(s, user, now, remember)
    else:
        # a retried rotation is answered with the pair first issued for it, byte for byte
        token, refresh_expires, session_id = rotation.token, rotation.expires, rotation.session_id
        now = rotation.issued_at
    access, expires = issue_access_token(
        request.app.state.signing_key,
        user.id,
        user.tier,
        "admin" if user.is_admin else "user",
        now,
        settings.access_token_minutes,
        session_id,
    )
    s.commit()
    return TokenPair(
        access_token=access,
        refresh_token=token,
        expires_at=expires,
        refresh_expires_at=refresh_expires,
    )


def _verify_link(request: Request, email: str, code: str) -> str:
    return _link(request.app.state.settings.public_url, email, code)


def _link(public_url: str, email: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/verify?{urlencode({'email': email, 'code': code})}"


@router.post("/register", status_code=status.HTTP_202_ACCEPTED, response_model=Message)
def register(body: RegisterRequest, request: Request) -> Message:
    """Create a FREE account and mail a verification code. The answer is the same whether or
    not the email is already registered, and so is its time: the account is made (or the
    owner of the address told) in the background, after the answer (server.signups)."""
    _abuse(request, "register")
    _password_ok("password", body.password)
    email = body.email.strip().lower()
    state = request.app.state
    signups: Signups = state.signups
    signups.submit(
        email,
        partial(
            _finish_signup,
            state,
            email,
            body.password,
            body.display_name,
            request_language(request),
        ),
    )
    return Message(message=_("Check your mail for a 6-digit code. {sent}", sent=_SENT))


def _finish_signup(state: Any, email: str, password: str, display_name: str, language: str) -> None:
    """A sign-up's work (a worker thread): a new address gets its account, code and
    verification mail; a taken one an "already registered" notice. Both pay one argon2
    hash, so the machine's load does not tell them apart either. Mails within the limit
    per recipient."""
    password_hash = hash_password(password)
    throttle: Throttle = state.throttle
    mailer: Mailer = state.mailer
    with state.sessions() as s:
        now = state.clock()
        try:
            user = accounts.find_user(s, email)
            if user is not None:
                if throttle.may_mail("registered", email):
                    mailer.queue(s, email, *templates.already_registered(), language=user.language)
            else:
                user = accounts.create_user(
                    s, email, "", now, display_name=display_name, password_hash=password_hash
                )
                # a new account speaks the language its sign-up asked in (Accept-Language)
                user.language = language
                code = accounts.create_code(s, user, "verify", now)
                if throttle.may_mail("verify", email):
                    link = _link(state.settings.public_url, email, code)
                    mailer.queue(s, email, *templates.verification(code, link), language=language)
            s.commit()
        except IntegrityError:  # the same address signed up twice at once: one account
            s.rollback()
            return
    state.loop.call_soon_threadsafe(mailer.wake)


def verify_code(s: SessionDep, email: str, code: str, now: datetime, mailer: Mailer) -> None:
    """Verify an account's email with its code (shared by the API and the HTML page)."""
    user = accounts.find_user(s, email)
    if user is None:
        raise _wrong_code()
    if user.email_verified:
        # the link followed twice is fine; any other code gets the stranger's answer
        if accounts.was_issued(s, user, "verify", code):
            return
        raise _wrong_code()
    result = accounts.check_code(s, user, "verify", code, now)
    if not result.ok:
        s.commit()  # count the try
        raise _wrong_code()
    user.email_verified = True
    accounts.notify(
        s, user, "email_verified", _("Email verified"), _("Welcome to tradealerts."), now
    )
    mailer.queue(s, user.email, *templates.welcome(), language=user.language)
    s.commit()
    mailer.wake()


@router.post("/verify-email", response_model=Message)
def verify_email(body: EmailVerify, s: SessionDep, clock: ClockDep, mailer: MailerDep) -> Message:
    """Confirm the email with the 6-digit code (single use, 30 minutes, 5 tries)."""
    verify_code(s, body.email, body.code, clock(), mailer)
    return Message(message=_("Email verified. You can log in now."))


@router.post("/resend-verification", status_code=202, response_model=Message)
def resend_verification(
    body: ForgotPassword, request: Request, s: SessionDep, clock: ClockDep, mailer: MailerDep
) -> Message:
    """Mail a new verification code (earlier codes stop working)."""
    _abuse(request, "resend")
    user = accounts.find_user(s, body.email)
    if (
        user is not None
        and not user.email_verified
        and _throttle(request).may_mail("verify", user.email)
    ):
        code = accounts.create_code(s, user, "verify", clock())
        mailer.queue(
            s,
            user.email,
            *templates.verification(code, _verify_link(request, user.email, code)),
            language=user.language,
        )
        s.commit()
        mailer.wake()
    return Message(message=_SENT)


@router.post("/login", response_model=TokenPair)
def login(body: LoginRequest, request: Request, s: SessionDep, clock: ClockDep) -> TokenPair:
    """Exchange email and password (and a TOTP code when 2FA is on) for tokens."""
    throttle = _throttle(request)
    ip, email = client_ip(request), body.email.strip().lower()
    request.app.state.signups.wait(email)  # a sign-up of this address still hashing
    user = accounts.find_user(s, email)
    # counted per account, source and password: see server.throttle
    epoch = password_epoch(user.password_hash if user else None)
    wait = throttle.login_blocked(email, ip, epoch)
    if wait is not None:
        raise TooManyRequests(
            _(
                "Too many failed logins from your address; try again in {wait} s or "
                "reset your password.",
                wait=wait,
            ),
            headers={"Retry-After": str(wait)},
        )
    # verify_password hashes against a dummy when the user is unknown: same answer, same time
    if not verify_password(user.password_hash if user else None, body.password) or user is None:
        throttle.login_failed(email, ip, epoch)
        raise NotLoggedIn(_("Wrong email or password."), code="invalid_credentials")
    if user.totp_enabled:
        if not body.otp:
            raise NotLoggedIn(
                _(
                    "This account uses two-factor authentication: send the 6-digit code "
                    "from your authenticator as otp."
                ),
                code="otp_required",
            )
        if not accounts.use_totp(s, user, body.otp, clock()):
            s.commit()
            throttle.login_failed(email, ip, epoch)
            raise NotLoggedIn(
                _("The two-factor code is wrong or was already used: wait for the next one."),
                code="invalid_otp",
            )
    if not user.email_verified:
        raise ApiError(
            _("Verify your email first: enter the code from the mail, or ask for a new one."),
            status=403,
            code="email_not_verified",
        )
    if user.disabled:
        raise ApiError(
            _("This account is disabled; contact the owner."), status=403, code="account_disabled"
        )
    throttle.login_succeeded(email, ip, epoch)
    return _tokens(request, s, user, clock(), body.remember)


@router.post("/refresh", response_model=TokenPair)
def refresh(body: RefreshRequest, request: Request, s: SessionDep, clock: ClockDep) -> TokenPair:
    """Swap a refresh token for a new pair. Each refresh token works once; sent again within
    the grace window (30 s: the answer was lost), it gets the same pair again; later, its
    reuse ends the session."""
    now = clock()
    grace = timedelta(seconds=request.app.state.settings.refresh_grace_seconds)
    rotated = accounts.rotate_refresh(
        s, request.app.state.signing_key, body.refresh_token, now, grace
    )
    s.commit()
    if rotated is None:
        raise NotLoggedIn(_("This session has ended: log in again."), code="session_ended")
    return _tokens(request, s, rotated.user, now, False, rotated)


@router.post("/logout", status_code=204)
def logout(body: RefreshRequest, s: SessionDep, clock: ClockDep) -> None:
    """End the session this refresh token belongs to."""
    accounts.revoke_family(s, body.refresh_token, clock())
    s.commit()


@router.post("/forgot-password", status_code=202, response_model=Message)
def forgot_password(body: ForgotPassword, request: Request) -> Message:
    """Mail a reset code. The answer never says whether the email is registered, nor does
    its time: the code is made and mailed in the background, for both."""
    _abuse(request, "forgot")
    state = request.app.state
    state.signups.submit(body.email.strip().lower(), partial(_send_reset, state, body.email))
    return Message(message=_SENT)


def _send_reset(state: Any, email: str) -> None:
    """A reset code to ``email``'s account, if there is one and the address has not had
    its codes for the hour (the limit per recipient)."""
    throttle: Throttle = state.throttle
    mailer: Mailer = state.mailer
    with state.sessions() as s:
        user = accounts.find_user(s, email)
        if user is None or not throttle.may_mail("reset", user.email):
            return
        code = accounts.create_code(s, user, "reset", state.clock())
        mailer.queue(s, user.email, *templates.reset(code), language=user.language)
        s.commit()
    state.loop.call_soon_threadsafe(mailer.wake)


@router.post("/reset-password", response_model=Message)
def reset_password(body: ResetPassword, s: SessionDep, clock: ClockDep) -> Message:
    """Set a new password with the mailed code; every session is ended."""
    _password_ok("password", body.password)
    now = clock()
    user = accounts.find_user(s, body.email)
    if user is None:
        raise _wrong_code()
    result = accounts.check_code(s, user, "reset", body.code, now)
    if not result.ok:
        s.commit()
        raise _wrong_code()
    # the new password starts the lock-out counts afresh (their keys hold its epoch)
    accounts.set_password(s, user, body.password, now, "reset")
    s.commit()
    return Message(message=_("Password changed. Log in with the new one."))


@router.post("/2fa/setup", response_model=TotpSetup)
def totp_setup(user: CurrentUser, s: SessionDep) -> TotpSetup:
    """A new TOTP secret and its otpauth:// URI for an authenticator app."""
    if user.totp_enabled:
        raise ApiError(
            _("Two-factor authentication is already on; disable it first."),
            status=409,
            code="totp_enabled",
        )
    secret = pyotp.random_base32()
    user.totp_secret = secret
    s.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="tradealerts")
    return TotpSetup(secret=secret, otpauth_uri=uri)


def _current_session(request: Request) -> str | None:
    sid: str | None = getattr(request.state, "session_id", None)
    return sid


@router.post("/2fa/enable", response_model=Message)
def totp_enable(
    body: TotpCode, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> Message:
    """Turn 2FA on with a valid code from the authenticator; other sessions are logged out."""
    if not user.totp_secret:
        raise ApiError(_("Call /api/auth/2fa/setup first."), status=409, code="totp_not_set_up")
    now = clock()
    if not checked(request, user, lambda: accounts.use_totp(s, user, body.code, now)):
        raise Invalid(_("code: the two-factor code is wrong."), field="code", code="invalid_otp")
    user.totp_enabled = True
    accounts.revoke_all_sessions(s, user, now, keep=_current_session(request))
    s.commit()
    return Message(message=_("Two-factor authentication is on; other sessions were logged out."))


@router.post("/2fa/disable", response_model=Message)
def totp_disable(
    body: TotpDisable, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> Message:
    """Turn 2FA off (password and a current code required); other sessions are logged out."""
    if not checked(request, user, lambda: verify_password(user.password_hash, body.password)):
        raise Invalid(_("password: the password is wrong."), field="password")
    now = clock()
    if not user.totp_enabled or not checked(
        request, user, lambda: accounts.use_totp(s, user, body.code, now)
    ):
        s.commit()  # a spent code stays spent
        raise Invalid(_("code: the two-factor code is wrong."), field="code", code="invalid_otp")
    user.totp_enabled, user.totp_secret = False, None
    accounts.revoke_all_sessions(s, user, now, keep=_current_session(request))
    s.commit()
    return Message(message=_("Two-factor authentication is off; other sessions were logged out."))
