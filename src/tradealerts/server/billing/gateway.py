"""The only module that talks to Stripe: plain dicts in and out, Stripe's errors turned into
``StripeUnavailable`` at this boundary.

Every object is converted to a dict as it arrives, and fields that moved between Stripe API
versions (a subscription's period end now lives on its items; an invoice's subscription under
``parent``) are read in both places, so the same code runs on Stripe and on localstripe.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Gateway", "StripeUnavailable", "invoice_subscription", "period_end"]

#: The product and the price ``billing setup`` creates: fixed ids make it idempotent.
PRODUCT_ID = "tradealerts_pro"
PLAN_ID = "tradealerts_pro_monthly"

Json = dict[str, Any]


class StripeUnavailable(Exception):
    """Stripe refused or did not answer; ``status`` is Stripe's HTTP status when it answered,
    ``code`` Stripe's error code (``resource_missing``: no such object) when it gave one."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def no_such_endpoint(self) -> bool:
        """A 404 that names no missing object: the API at this base has no such endpoint
        (localstripe has no Checkout Sessions or portal): asking again cannot help."""
        return self.status == 404 and self.code != "resource_missing"


def _plain(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    return obj


def period_end(sub: Json) -> int | None:
    """The end of the subscription's current period (epoch s), on the subscription or, since
    Stripe's 2025 API, on its items."""
    end = sub.get("current_period_end")
    if end:
        return int(end)
    items = (sub.get("items") or {}).get("data") or []
    ends = [int(i["current_period_end"]) for i in items if i.get("current_period_end")]
    return max(ends) if ends else None


def invoice_subscription(inv: Json) -> str | None:
    """The subscription an invoice bills, wherever this API version puts it."""
    sub = inv.get("subscription")
    if isinstance(sub, dict):
        sub = sub.get("id")
    if sub:
        return str(sub)
    parent = inv.get("parent") or {}
    details = parent.get("subscription_details") or {}
    found = details.get("subscription")
    if isinstance(found, dict):
        found = found.get("id")
    return str(found) if found else None


class Gateway:
    """Stripe's API through the official library; one client per server."""

    def __init__(self, secret_key: str, api_base: str | None = None) -> None:
        # imported here, not with the module: the library is ~11 MB of RSS that a server
        # without billing never needs (bench_memory)
        import stripe

        bases = {"api": api_base.rstrip("/")} if api_base else None
        http = stripe.RequestsClient(timeout=20) if _has_requests() else None
        kwargs: dict[str, Any] = {"max_network_retries": 2}
        if bases:
            kwargs["base_addresses"] = bases
        if http is not None:
            kwargs["http_client"] = http
        self._client = stripe.StripeClient(secret_key, **kwargs)

    def _call(self, fn: Any, *args: Any, **params: Any) -> Json:
        import stripe

        try:
            result = fn(*args, params=params) if params else fn(*args)
        except stripe.StripeError as exc:
            # the message Stripe wrote never carries our key; keep only its first line
            text = str(getattr(exc, "user_message", None) or exc).splitlines()[0][:200]
            code = getattr(exc, "code", None)
            raise StripeUnavailable(
                text, getattr(exc, "http_status", None), code if isinstance(code, str) else None
            ) from None
        out: Json = _plain(result)
        return out

    # -- customers and checkout ------------------------------------------------------
    def create_customer(self, email: str, user_id: int) -> Json:
        v1 = self._client.v1
        return self._call(v1.customers.create, email=email, metadata={"user_id": str(user_id)})

    def retrieve_customer(self, customer_id: str) -> Json:
        return self._call(self._client.v1.customers.retrieve, customer_id)

    def create_checkout(
        self,
        *,
        customer: str,
        price: str,
        user_id: int,
        success_url: str,
        cancel_url: str,
    ) -> Json:
        return self._call(
            self._client.v1.checkout.sessions.create,
            mode="subscription",
            customer=customer,
            client_reference_id=str(user_id),
            line_items=[{"price": price, "quantity": 1}],
            success_url=success_url,
            cancel_url=cancel_url,
            metadata={"user_id": str(user_id)},
            subscription_data={"metadata": {"user_id": str(user_id)}},
        )

    def create_portal(self, customer: str, return_url: str) -> Json:
        return self._call(
            self._client.v1.billing_portal.sessions.create,
            customer=customer,
            return_url=return_url,
        )

    # -- subscriptions and invoices --------------------------------------------------
    def retrieve_subscription(self, subscription_id: str) -> Json:
        return self._call(self._client.v1.subscriptions.retrieve, subscription_id)

    def set_cancel_at_period_end(self, subscription_id: str, cancel: bool) -> Json:
        return self._call(
            self._client.v1.subscriptions.update, subscription_id, cancel_at_period_end=cancel
        )

    def retrieve_invoice(self, invoice_id: str) -> Json:
        return self._call(self._client.v1.invoices.retrieve, invoice_id)

    def card(self, sub: Json) -> tuple[str | None, str | None]:
        """The brand and last 4 digits of the card that pays ``sub`` (None when unknown)."""
        pm = sub.get("default_payment_method")
        if not pm:
            customer = self.retrieve_customer(str(sub["customer"]))
            pm = (customer.get("invoice_settings") or {}).get("default_payment_method")
        if not pm:
            return None, None
        if isinstance(pm, str):
            pm = self._call(self._client.v1.payment_methods.retrieve, pm)
        card = pm.get("card") or {}
        return card.get("brand"), card.get("last4")

    # -- the owner's set-up ----------------------------------------------------------
    def ensure_product(self, name: str) -> tuple[Json, bool]:
        """The PRO product, created when missing; True when it was created."""
        products = self._client.v1.products
        return self._ensure(products, PRODUCT_ID, name=name, metadata={"tradealerts": "pro"})

    def ensure_plan(self, amount: int, currency: str, interval: str) -> tuple[Json, bool]:
        """The PRO monthly price, created through the Plans API (whose ids Stripe accepts
        wherever a Price id goes, and which localstripe has); True when created."""
        return self._ensure(
            self._client.v1.plans,
            PLAN_ID,
            product=PRODUCT_ID,
            amount=amount,
            currency=currency,
            interval=interval,
            nickname="PRO monthly",
        )

    def _ensure(self, service: Any, object_id: str, **fields: Any) -> tuple[Json, bool]:
        """The object ``object_id`` of ``service`` (products, plans), created with ``fields``
        when Stripe does not have it (404); True when it was created."""
        try:
            return self._call(service.retrieve, object_id), False
        except StripeUnavailable as exc:
            if exc.status != 404:
                raise
        return self._call(service.create, id=object_id, **fields), True


def _has_requests() -> bool:
    try:
        import requests  # noqa: F401
    except ImportError:
        return False
    return True
