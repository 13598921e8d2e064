"""Stripe in tests: localstripe (a stateful fake Stripe API) on loopback, and a stand-in for
the two things it lacks (Checkout Sessions, the customer portal), mirroring Stripe's request
and response shapes. The stand-in sits in front of localstripe (``STRIPE_API_BASE`` points at
it) and forwards every other request there. Webhooks are signed with Stripe's algorithm:
``Stripe-Signature: t=<epoch>,v1=<hex HMAC-SHA256 of "t.body">``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

import httpx
from tests.server.serverkit import free_port

SECRET_KEY = "sk_test_tradealerts_0123456789"
WEBHOOK_SECRET = "whsec_test_tradealerts_0123456789"
GOOD_CARD = "4242424242424242"
#: localstripe's card that attaches but whose charges are declined (as on Stripe)
DECLINED_CARD = "4000000000000341"


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends for ``payload``."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """A Stripe event envelope around ``obj``."""
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2026-10-28.endive",
        "data": {"object": obj},
    }


def _unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) as nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class StripeDouble:
    """localstripe as a subprocess plus the Checkout/portal stand-in in front of it."""

    def __init__(self) -> None:
        self.ls_port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from localstripe.server import start; start()",
                "--port",
                str(self.ls_port),
                "--from-scratch",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ls_url = f"http://127.0.0.1:{self.ls_port}"
        self.http = httpx.Client(base_url=self.ls_url, auth=(SECRET_KEY, ""), timeout=10)
        # the stand-in's connections to localstripe, kept alive (a new one costs ~0.1 s)
        self._forwarder = httpx.Client(base_url=self.ls_url, timeout=10)
        self._hooks = httpx.Client(timeout=20)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.http.get("/v1/customers")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.1)
        self.checkouts: dict[str, dict[str, Any]] = {}
        self.checkout_params: list[dict[str, Any]] = []
        self.portals: list[dict[str, Any]] = []
        #: answer this many API calls with a 500, as Stripe does in an outage
        self.fail_next = 0
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.webhook_url: str | None = None

    # -- the stand-in ------------------------------------------------------------------
    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        double = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small writes, kept-alive: no 40 ms waits

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def _send(self, status: int, data: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _json(self, status: int, obj: Any) -> None:
                self._send(status, json.dumps(obj).encode())

            def _outage(self) -> bool:
                if double.fail_next <= 0:
                    return False
                double.fail_next -= 1
                self._json(500, {"error": {"type": "api_error", "message": "outage"}})
                return True

            def _forward(self, body: bytes | None) -> None:
                if self._outage():
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("authorization", "content-type", "idempotency-key")
                }
                r = double._forwarder.request(
                    self.command,
                    self.path,
                    content=body,
                    headers=headers,
                    timeout=10,
                )
                self._send(r.status_code, r.content, r.headers.get("content-type", "text/plain"))

            def do_GET(self) -> None:
                if self.path.startswith("/v1/checkout/sessions/"):
                    cs = double.checkouts.get(self.path.rsplit("/", 1)[1])
                    if cs is None:
                        self._json(
                            404,
                            {
                                "error": {
                                    "type": "invalid_request_error",
                                    "message": "No such checkout.session",
                                }
                            },
                        )
                    else:
                        self._json(200, cs)
                    return
                self._forward(None)

            def do_DELETE(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                body = self._body()
                if self.path == "/v1/checkout/sessions":
                    self._checkout(_unflatten(parse_qsl(body.decode())))
                elif self.path == "/v1/billing_portal/sessions":
                    self._portal(_unflatten(parse_qsl(body.decode())))
                else:
                    self._forward(body)

            def _checkout(self, p: dict[str, Any]) -> None:
                double.checkout_params.append(p)
                missing = [
                    k
                    for k in ("mode", "customer", "line_items", "success_url", "cancel_url")
                    if k not in p
                ]
                if missing or p["mode"] != "subscription":
                    self._json(
                        400,
                        {
                            "error": {
                                "type": "invalid_request_error",
                                "message": f"Missing {missing or 'mode'}",
                            }
                        },
                    )
                    return
                cs_id = f"cs_test_{secrets.token_hex(12)}"
                cs = {
                    "id": cs_id,
                    "object": "checkout.session",
                    "mode": "subscription",
                    "status": "open",
                    "payment_status": "unpaid",
                    "customer": p["customer"],
                    "client_reference_id": p.get("client_reference_id"),
                    "metadata": p.get("metadata", {}),
                    "line_items_requested": p["line_items"],
                    "subscription_data": p.get("subscription_data", {}),
                    "success_url": p["success_url"],
                    "cancel_url": p["cancel_url"],
                    "subscription": None,
                    "url": f"https://checkout.stripe.com/c/pay/{cs_id}",
                    "livemode": False,
                }
                double.checkouts[cs_id] = cs
                self._json(200, cs)

            def _portal(self, p: dict[str, Any]) -> None:
                double.portals.append(p)
                if "customer" not in p:
                    self._json(
                        400,
                        {"error": {"type": "invalid_request_error", "message": "Missing customer"}},
                    )
                    return
                sid = f"bps_{secrets.token_hex(12)}"
                self._json(
                    200,
                    {
                        "id": sid,
                        "object": "billing_portal.session",
                        "customer": p["customer"],
                        "return_url": p.get("return_url"),
                        "url": f"https://billing.stripe.com/p/session/{sid}",
                        "livemode": False,
                    },
                )

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    # -- acting as Stripe --------------------------------------------------------------
    def send_webhooks_to(self, url: str) -> None:
        """localstripe's own events (subscription, invoice) go to ``url``, signed."""
        self.webhook_url = url
        r = self.http.post(
            "/_config/webhooks/tradealerts", data={"url": url, "secret": WEBHOOK_SECRET}
        )
        r.raise_for_status()

    def mute(self) -> None:
        """Stop localstripe's own event deliveries (to a port nobody listens on)."""
        r = self.http.post(
            "/_config/webhooks/tradealerts",
            data={"url": f"http://127.0.0.1:{free_port()}/nobody", "secret": WEBHOOK_SECRET},
        )
        r.raise_for_status()

    def deliver(
        self, evt: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: int | None = None
    ) -> httpx.Response:
        """POST one event to the server's webhook, signed as Stripe signs."""
        assert self.webhook_url is not None
        payload = json.dumps(evt).encode()
        return self._hooks.post(
            self.webhook_url,
            content=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": sign(payload, secret, at),
            },
            timeout=20,
        )

    def set_card(self, customer: str, number: str) -> str:
        pm = self.http.post(
            "/v1/payment_methods",
            data={
                "type": "card",
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2034",
                "card[cvc]": "123",
            },
        ).json()
        self.http.post(
            f"/v1/payment_methods/{pm['id']}/attach", data={"customer": customer}
        ).raise_for_status()
        self.http.post(
            f"/v1/customers/{customer}", data={"invoice_settings[default_payment_method]": pm["id"]}
        ).raise_for_status()
        return str(pm["id"])

    def complete_checkout(self, cs_id: str, card: str = GOOD_CARD) -> dict[str, Any]:
        """What Stripe's hosted page does when the person pays: the card becomes the
        customer's, the subscription is created, then ``checkout.session.completed`` is
        sent (localstripe sends the subscription's and invoice's own events)."""
        cs = self.checkouts[cs_id]
        self.set_card(cs["customer"], card)
        price = cs["line_items_requested"][0]["price"]
        meta = (cs.get("subscription_data") or {}).get("metadata") or {}
        data = {"customer": cs["customer"], "items[0][plan]": price}
        data.update({f"metadata[{k}]": v for k, v in meta.items()})
        sub = self.http.post("/v1/subscriptions", data=data)
        sub.raise_for_status()
        cs.update(status="complete", payment_status="paid", subscription=sub.json()["id"])
        return cs

    def subscription(self, sub_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"/v1/subscriptions/{sub_id}").json())

    def end_period(self, sub_id: str) -> None:
        """What Stripe does when a subscription cancelled at the period's end reaches it."""
        self.http.delete(f"/v1/subscriptions/{sub_id}").raise_for_status()

    def failed_renewal(self, customer: str, sub_id: str) -> dict[str, Any]:
        """A renewal charged to a declined card: the subscription becomes ``past_due`` and
        ``invoice.payment_failed`` is sent.

        localstripe has no clock to reach a period's end, and paying an invoice by hand
        leaves the subscription as it was; the one path where it charges a subscription's
        new invoice to the default card and marks the subscription ``past_due`` on a
        decline is a change of billing cycle. So the renewal is made that way, and the
        event Stripe sends then (which localstripe does not) is sent here."""
        self.set_card(customer, DECLINED_CARD)
        plan = "tradealerts_test_renewal"
        if self.http.get(f"/v1/plans/{plan}").status_code == 404:
            self.http.post(
                "/v1/plans",
                data={
                    "id": plan,
                    "product": "tradealerts_pro",
                    "amount": "5800",
                    "currency": "usd",
                    "interval": "month",
                    "interval_count": "2",
                },
            ).raise_for_status()
        self.http.post(
            f"/v1/subscriptions/{sub_id}", data={"items[0][plan]": plan}
        ).raise_for_status()
        sub = self.subscription(sub_id)
        invoice = self.http.get(f"/v1/invoices/{sub['latest_invoice']}").json()
        r = self.deliver(event("invoice.payment_failed", invoice))
        assert r.status_code == 200, r.text
        return sub

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.http.close()
        self._forwarder.close()
        self._hooks.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@contextmanager
def stripe_double() -> Iterator[StripeDouble]:
    double = StripeDouble()
    try:
        yield double
    finally:
        double.close()


def stripe_settings(double: StripeDouble, price_id: str) -> dict[str, Any]:
    """Server settings that point billing at the double."""
    return {
        "stripe_secret_key": SECRET_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_price_id": price_id,
        "stripe_api_base": double.url,
        "billing_sweep_seconds": 0.2,
    }


def setup_price(double: StripeDouble) -> str:
    """The owner's ``billing setup`` against the double; returns the price id."""
    from tradealerts.server.billing.setup import setup

    return setup(SECRET_KEY, double.url)["price_id"]
