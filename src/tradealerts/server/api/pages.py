"""The one HTML page the server serves: the email-verification link's form."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import EmailStr

from tradealerts.core.messages import _, localise
from tradealerts.server.api.auth import verify_code
from tradealerts.server.api.deps import ClockDep, SessionDep
from tradealerts.server.errors import ApiError
from tradealerts.server.language import request_language

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


_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tradealerts · verify</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}
input,button{{font-size:1.2rem;padding:.4rem}}</style></head><body><h1>{title}</h1>
{body}</body></html>"""


def _page(lang: str, body: str) -> str:
    """A page in the visitor's language (their browser's Accept-Language)."""
    return _PAGE.format(lang=lang, title=escape(localise(_("Verify your email"), lang)), body=body)


def _form(lang: str, email: str, code: str, note: str = "") -> str:
    label, button = localise(_("Code"), lang), localise(_("Verify"), lang)
    return _page(
        lang,
        f"""{note}<form method="post" action="/verify">
<input type="hidden" name="email" value="{escape(email)}">
<p><label>{escape(label)} <input name="code" value="{escape(code)}" inputmode="numeric"
pattern="[0-9]{{6}}" maxlength="6" required></label></p>
<button type="submit">{escape(button)}</button></form>""",
    )


@router.get("/verify", response_class=HTMLResponse)
def verify_page(
    request: Request,
    email: Annotated[str, Query(max_length=320)] = "",
    code: Annotated[str, Query(max_length=6)] = "",
) -> HTMLResponse:
    return html_page(_form(request_language(request), email, code))


@router.post("/verify", response_class=HTMLResponse)
def verify_submit(
    request: Request,
    s: SessionDep,
    clock: ClockDep,
    email: Annotated[EmailStr, Form()],
    code: Annotated[str, Form(max_length=6)],
) -> HTMLResponse:
    lang = request_language(request)
    try:
        verify_code(s, email, code, clock(), request.app.state.mailer)
    except ApiError as exc:
        said = escape(localise(exc.message, lang))
        return html_page(
            _form(lang, email, "", f"<p><strong>{said}</strong></p>"), status_code=exc.status
        )
    done = localise(_("Your email is verified. You can log in now: {command}"), lang)
    return html_page(
        _page(lang, f"<p>{escape(done).format(command='<code>tradealerts login</code>')}</p>")
    )
