"""The one HTML page the server serves: the email-verification link's form."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import EmailStr

from tradealerts.server.api.auth import verify_code
from tradealerts.server.api.deps import ClockDep, SessionDep
from tradealerts.server.errors import ApiError

router = APIRouter(include_in_schema=False)

#: every HTML page: nothing but its own inline style and a form posting back here; never
#: inside another site's frame (clickjacking the verify form)
HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the verify link's code stays out of Referer
    "Cache-Control": "no-store",
}


def html_page(content: str, status_code: int = 200) -> HTMLResponse:
    """An HTML answer with the pages' security headers."""
    return HTMLResponse(content, status_code=status_code, headers=HTML_HEADERS)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tradealerts · verify</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}
input,button{{font-size:1.2rem;padding:.4rem}}</style></head><body><h1>Verify your email</h1>
{body}</body></html>"""


def _form(email: str, code: str, note: str = "") -> str:
    return _PAGE.format(
        body=f"""{note}<form method="post" action="/verify">
<input type="hidden" name="email" value="{escape(email)}">
<p><label>Code <input name="code" value="{escape(code)}" inputmode="numeric"
pattern="[0-9]{{6}}" maxlength="6" required></label></p>
<button type="submit">Verify</button></form>"""
    )


@router.get("/verify", response_class=HTMLResponse)
def verify_page(
    email: Annotated[str, Query(max_length=320)] = "",
    code: Annotated[str, Query(max_length=6)] = "",
) -> HTMLResponse:
    return html_page(_form(email, code))


@router.post("/verify", response_class=HTMLResponse)
def verify_submit(
    request: Request,
    s: SessionDep,
    clock: ClockDep,
    email: Annotated[EmailStr, Form()],
    code: Annotated[str, Form(max_length=6)],
) -> HTMLResponse:
    try:
        verify_code(s, email, code, clock(), request.app.state.mailer)
    except ApiError as exc:
        return html_page(
            _form(email, "", f"<p><strong>{escape(exc.message)}</strong></p>"),
            status_code=exc.status,
        )
    return html_page(
        _PAGE.format(
            body="<p>Your email is verified. You can log in now: <code>tradealerts login</code></p>"
        )
    )
