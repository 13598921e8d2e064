"""The server speaks each subscriber's language (issue 27), through a real uvicorn server,
aiosmtpd and the synthetic feed: for every language, the mails (verification, welcome, an
alert's), an API error's ``message`` (signed in: the profile's ``language``; signed out:
``Accept-Language``), a notification-centre text and a default alert message with its
prices in the locale's form. Codes, fields and every other JSON value stay as they are.

The expected sentences are written here, not read from the catalogs, so a lost catalog, a
language not passed on, or English sent instead each fail."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from tests.server.serverkit import (
    PW,
    Clock,
    Inbox,
    Running,
    free_port,
    server_settings,
    start_server,
    wait_until,
)

from tradealerts.core.messages import format_number

LOW = 0.5  # below every synthetic EURUSD price: a greater_than alert fires at once
RID = "i18n-fixed-request-id"  # one request id, so error bodies compare whole

#: lang: (verification subject, "You have no alert 424242.", the notification title after
#: verifying, the default message's start for `EURUSD H1 greater_than 0.5`, the alert mail's
#: price label, the 401 sentence)
EXPECTED: dict[str, tuple[str, str, str, str, str, str]] = {
    "en": (
        "Your tradealerts verification code",
        "You have no alert 424242.",
        "Email verified",
        "EURUSD H1 is above 0.50000 at ",
        "Price: ",
        "Log in first: send 'Authorization: Bearer <access token>'.",
    ),
    "es": (
        "Tu código de verificación de tradealerts",
        "No tienes ninguna alerta 424242.",
        "Correo verificado",
        "EURUSD H1 está por encima de 0,50000 a ",
        "Precio: ",
        "Inicia sesión primero: envía 'Authorization: Bearer <access token>'.",
    ),
    "de": (
        "Dein tradealerts-Bestätigungscode",
        "Du hast keinen Alarm 424242.",
        "E-Mail bestätigt",
        "EURUSD H1 liegt über 0,50000 bei ",
        "Kurs: ",
        "Melde dich zuerst an: sende 'Authorization: Bearer <access token>'.",
    ),
    "fr": (
        "Votre code de vérification tradealerts",
        "Vous n’avez pas d’alerte 424242.",
        "E-mail vérifié",
        "EURUSD H1 est au-dessus de 0,50000 à ",
        "Prix : ",
        "Connectez-vous d’abord : envoyez 'Authorization: Bearer <access token>'.",
    ),
    "ja": (
        "tradealerts の確認コード",
        "アラート 424242 はありません。",
        "メールアドレスを確認しました",
        "EURUSD H1 は 0.50000 を上回っています（価格 ",
        "価格: ",
        "先にログインしてください：'Authorization: Bearer <access token>' を送ってください。",
    ),
    "pt": (
        "Seu código de verificação do tradealerts",
        "Você não tem o alerta 424242.",
        "E-mail verificado",
        "EURUSD H1 está acima de 0,50000 a ",
        "Preço: ",
        "Entre primeiro: envie 'Authorization: Bearer <access token>'.",
    ),
    "it": (
        "Il tuo codice di verifica tradealerts",
        "Non hai nessun avviso 424242.",
        "Email verificata",
        "EURUSD H1 è sopra 0,50000 a ",
        "Prezzo: ",
        "Accedi prima: invia 'Authorization: Bearer <access token>'.",
    ),
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One server for the module (SQLite, the synthetic feed ticking fast, real SMTP)."""
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    home = tmp_path_factory.mktemp("i18n")
    settings = server_settings(
        home, f"sqlite:///{Path(home) / 'server.db'}", smtp_port,
        tick_rate=20, rate_limits_enabled=False,
    )  # fmt: skip
    running = start_server(settings, Clock(), inbox)
    try:
        yield running
    finally:
        running.stop()
        controller.stop()


def _subject(mail: Message) -> str:
    """The Subject as a reader sees it (non-ASCII travels RFC 2047 encoded)."""
    return str(make_header(decode_header(mail["Subject"])))


def _body(mail: Message) -> str:
    return str(mail.get_payload(decode=True).decode()).replace("\r\n", "\n")


def _signup(srv: Running, email: str, lang: str) -> httpx.Client:
    """Sign up asking in ``lang`` (Accept-Language; none for English), verify, log in."""
    headers = {} if lang == "en" else {"Accept-Language": f"{lang}-XX, en;q=0.5"}
    with srv.client() as c:
        r = c.post("/api/auth/register", json={"email": email, "password": PW}, headers=headers)
        assert r.status_code == 202, r.text
        # a {"message": …} answer speaks the language too
        assert ("Check your mail" in r.json()["message"]) == (lang == "en")
        code = srv.inbox.code_for(email)
        assert c.post("/api/auth/verify-email", json={"email": email, "code": code}).is_success
        token = c.post("/api/auth/login", json={"email": email, "password": PW}).json()
    return srv.client(token["access_token"])


def _errors(c: httpx.Client, lang: str) -> list[dict[str, Any]]:
    """The bodies of three refusals: a 404 and a 422 naming its field, signed in (asking
    in English: the profile's language wins), and a 401 signed out asking in ``lang``."""
    signed_in = {"X-Request-ID": RID, "Accept-Language": "en"}
    signed_out = {"X-Request-ID": RID, "Accept-Language": f"{lang};q=0.9, xx;q=0.8"}
    out = [
        c.get("/api/alerts/424242", headers=signed_in),
        c.patch("/api/user/preferences", json={"timezone": "Mars/Olympus"}, headers=signed_in),
        httpx.get(f"{c.base_url}/api/alerts", headers=signed_out),  # no token
    ]
    assert [r.status_code for r in out] == [404, 422, 401]
    return [r.json() for r in out]


def _without_messages(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_messages(v) for k, v in value.items() if k != "message"}
    if isinstance(value, list):
        return [_without_messages(v) for v in value]
    return value


@pytest.fixture(scope="module")
def english(srv: Running) -> list[dict[str, Any]]:
    """An English subscriber's refusals, to compare the others' JSON with."""
    return _errors(_signup(srv, "english@example.com", "en"), "en")


@pytest.mark.parametrize("lang", list(EXPECTED))
def test_mails_errors_notifications_and_alerts_in_the_users_language(
    srv: Running, english: list[dict[str, Any]], lang: str
) -> None:
    subject, no_alert, verified, default_start, price_label, log_in_first = EXPECTED[lang]
    email = f"trader-{lang}@example.com"
    c = _signup(srv, email, lang)

    # the mails: verification (the sign-up's Accept-Language) and welcome
    mails = srv.inbox.wait_for(email, 2)
    assert _subject(mails[0]) == subject
    assert lang == "en" or "verification code" not in _body(mails[0])
    # the profile keeps the language the sign-up asked in; setting it is the documented way
    assert c.get("/api/user/preferences").json()["language"] == lang
    assert c.patch("/api/user/preferences", json={"language": lang}).is_success

    # API errors: the sentence in the language, everything else as in English
    errors = _errors(c, lang)
    assert errors[0]["error"]["message"] == no_alert
    assert errors[0]["error"]["code"] == "not_found"
    assert errors[1]["error"]["field"] == "timezone"
    assert "Mars/Olympus" in errors[1]["error"]["message"]
    assert (lang == "en") == ("unknown time zone" in errors[1]["error"]["message"])
    assert errors[2]["error"]["message"] == log_in_first  # signed out: Accept-Language
    assert _without_messages(errors) == _without_messages(english)

    # the notification centre
    notes = c.get("/api/notifications").json()["items"]
    assert [n["title"] for n in notes if n["kind"] == "email_verified"] == [verified]

    # a default alert message, in the log, the notification centre and the alert's mail
    r = c.post(
        "/api/alerts",
        json={"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than",
              "level": LOW, "channels": {"email": True}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    event = wait_until(lambda: c.get("/api/alerts/history").json()["items"], what="a fire")[0]
    assert event["message"].startswith(default_start), event["message"]
    assert (event["condition"], event["level"], event["symbol"]) == ("greater_than", LOW, "EURUSD")
    assert isinstance(event["price"], float)  # JSON values are numbers, never localised
    price = Decimal(event["message"].removeprefix(default_start).rstrip("）").replace(",", "."))
    assert price == Decimal(str(event["price"])).quantize(Decimal("0.00001"))
    alerts = [n for n in c.get("/api/notifications").json()["items"] if n["kind"] == "alert"]
    assert [n["body"] for n in alerts] == [event["message"]]
    mail = srv.inbox.wait_for(email, 3)[2]
    assert event["message"] in _subject(mail)
    said = format_number(event["price"], lang) if lang != "en" else str(event["price"])
    assert f"{price_label}{said}\n" in _body(mail)


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("de-CH, de;q=0.9, en;q=0.8", "de"),
        ("xx-YY, pt-BR;q=0.5, it;q=0.4", "pt"),
        ("en;q=0.2, ja;q=0.9", "ja"),
        ("fr;q=0, es;q=0.1", "es"),  # q=0: not acceptable
        ("de;q=oops, it", "it"),  # a broken weight counts as 0
        ("zh-CN, ko", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_accept_language_picks_the_best_of_our_languages(header: str | None, lang: str) -> None:
    from tradealerts.server.language import accept_language

    assert accept_language(header) == lang


#: pydantic's own messages, as each language says them: (a missing field, a string field
#: sent a number, a query number below its minimum of 1). English is pydantic's, verbatim.
VALIDATION: dict[str, tuple[str, str, str]] = {
    "en": ("Field required", "Input should be a valid string",
           "Input should be greater than or equal to 1"),
    "es": ("Este campo es obligatorio.", "Debe ser un texto.", "Debe ser al menos 1."),
    "de": ("Dieses Feld ist erforderlich.", "Muss ein Text sein.", "Muss mindestens 1 sein."),
    "fr": ("Ce champ est obligatoire.", "Doit être une chaîne de caractères.",
           "Doit être au moins 1."),
    "ja": ("この項目は必須です。", "文字列を指定してください。", "1 以上を指定してください。"),
    "pt": ("Este campo é obrigatório.", "Deve ser um texto.", "Deve ser pelo menos 1."),
    "it": ("Questo campo è obbligatorio.", "Deve essere un testo.", "Deve essere almeno 1."),
}  # fmt: skip


@pytest.mark.parametrize("lang", list(VALIDATION))
def test_pydantics_own_messages_in_the_users_language(srv: Running, lang: str) -> None:
    """The 422 of a body and of a query that pydantic refuses: its message and every
    field's in the caller's language; the code and the fields named as in English."""
    missing, not_a_string, at_least_one = VALIDATION[lang]
    c = _signup(srv, f"pydantic-{lang}@example.com", lang)
    body = c.post("/api/watchlist", json={"timeframe": 7}, headers={"Accept-Language": "en"})
    assert body.status_code == 422, body.text
    error = body.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"] == f"symbol: {missing}"
    assert error["fields"] == [
        {"field": "symbol", "message": missing},
        {"field": "timeframe", "message": not_a_string},
    ]
    query = c.get("/api/indicators/EURUSD/H1", params={"bars": 0})
    assert query.status_code == 422, query.text
    assert query.json()["error"]["message"] == f"bars: {at_least_one}"


def test_a_refusal_passed_on_keeps_its_language() -> None:
    """A sentence raised deep in the server and passed on as an API error's message (the
    engine's no_market_data) is said in the reader's language; its English as before."""
    from tradealerts.core.messages import localise
    from tradealerts.core.timeframes import Timeframe
    from tradealerts.server.engine.market import MarketState, NoMarketData
    from tradealerts.server.errors import sentence_of

    with pytest.raises(NoMarketData) as raised:
        MarketState().get("EURUSD", Timeframe.H1)
    said = sentence_of(raised.value)
    assert said == str(raised.value) == "The server's feed has no H1 data for EURUSD."
    assert localise(said, "de") == "Der Feed des Servers hat keine H1-Daten für EURUSD."
    assert localise(said, "ja") == "サーバーのフィードには EURUSD の H1 データがありません。"


def test_a_push_channels_refusals_keep_their_language() -> None:
    """Apprise's "cannot read this URL" and the vault's "cannot open it" reach a subscriber
    through ``channels add`` / ``channels test`` as passed-on sentences: said in their
    language too, never quoting the URL."""
    from tradealerts.core.messages import localise
    from tradealerts.core.push import describe_url
    from tradealerts.server.errors import sentence_of
    from tradealerts.server.push.vault import Vault, VaultError

    with pytest.raises(ValueError) as unreadable:
        describe_url("my-secret-topic")
    said = sentence_of(unreadable.value)
    assert str(said) == "is not an Apprise URL: it needs a scheme, like ntfy://ntfy.sh/topic"
    assert localise(said, "de").startswith("ist keine Apprise-URL")
    with pytest.raises(ValueError) as unknown:
        describe_url("nosuchservice://host/my-secret-topic")
    in_french = localise(sentence_of(unknown.value), "fr")
    assert in_french.startswith("n'est pas une URL vers laquelle Apprise")
    assert "my-secret-topic" not in in_french
    with pytest.raises(VaultError) as sealed:
        Vault("key two").open(Vault("key one").seal("ntfy://ntfy.sh/my-secret-topic"))
    assert localise(sentence_of(sealed.value), "es") == (
        "la URL del canal no se puede leer con la clave de este servidor"
    )


def test_the_verification_page_in_the_browsers_language(srv: Running) -> None:
    """The mailed link's page, its refusal and its success, in the browser's language
    (Accept-Language: nobody is logged in there); English without one."""
    email = "page-de@example.com"
    with srv.client() as c:
        c.post("/api/auth/register", json={"email": email, "password": PW})
        code = srv.inbox.code_for(email)
        german = {"Accept-Language": "de-DE,de;q=0.9"}
        page = c.get("/verify", params={"email": email, "code": code}, headers=german)
        assert '<html lang="de">' in page.text and "Bestätige deine E-Mail" in page.text
        assert "Verify your email" not in page.text
        bad = c.post("/verify", data={"email": email, "code": "000000"}, headers=german)
        assert bad.status_code == 422 and "Bestätige deine E-Mail" in bad.text
        assert "the code is wrong" not in bad.text  # the refusal said in German too
        english = c.post("/verify", data={"email": email, "code": "000000"})
        assert "the code is wrong" in english.text and '<html lang="en">' in english.text
        ok = c.post("/verify", data={"email": email, "code": code}, headers=german)
        assert "Deine E-Mail ist bestätigt" in ok.text, ok.text
        assert "<code>tradealerts login</code>" in ok.text
