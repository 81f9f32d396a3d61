"""A fake Stripe API: the endpoints Botskis calls, and Stripe's side of the world.

It speaks the wire format of the real one (form-encoded requests with bracketed
keys, JSON objects with `id` and `object`, errors as `{"error": {...}}`, Bearer
secret keys, Idempotency-Key replays), so the official library talks to it
unchanged:

    POST /v1/customers                  POST /v1/checkout/sessions
    POST /v1/billing_portal/sessions    GET  /v1/subscriptions/{id}
    GET  /v1/invoices?customer=...

Tests then play Stripe: `complete_checkout(session_id)` makes the subscription
and its first paid invoice and returns the webhook events Stripe would send,
signed exactly as Stripe signs them (`Stripe-Signature: t=<unix>,v1=<hex
HMAC-SHA256 of "<t>.<body>" under the endpoint secret>`); `change_subscription`,
`fail_payment` and `event` make further ones; `sign` signs anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.threaded_http import RecordedRequest, Reply, ThreadedHttpServer

SECRET_KEY = "sk_test_botskis_fake"
WEBHOOK_SECRET = "whsec_botskis_fake_secret"
PRICE_PROFESSIONAL = "price_professional_fake"
PRICE_ENTERPRISE = "price_enterprise_fake"
PRICES = {PRICE_PROFESSIONAL: 4900, PRICE_ENTERPRISE: 19900}
MONTH_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class SignedEvent:
    id: str
    type: str
    payload: bytes
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Stripe-Signature": self.signature, "Content-Type": "application/json"}


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    at = int(time.time()) if timestamp is None else timestamp
    signed = f"{at}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def _form(body: bytes) -> dict[str, Any]:
    """Stripe's bracketed form keys (`a[b][0][c]=v`) back into nested values."""
    root: dict[str, Any] = {}
    for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = values[0]
    return _lists(root)


def _lists(value: Any) -> Any:
    """Maps keyed 0, 1, ... are the lists the library encoded."""
    if not isinstance(value, dict):
        return value
    if value and all(key.isdigit() for key in value):
        return [_lists(value[key]) for key in sorted(value, key=int)]
    return {key: _lists(item) for key, item in value.items()}


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Reply:
    return Reply(status, json={"error": {"type": kind, "message": message}})


class FakeStripeServer(ThreadedHttpServer):
    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self.customers: dict[str, dict[str, Any]] = {}
            self.checkout_sessions: dict[str, dict[str, Any]] = {}
            self.subscriptions: dict[str, dict[str, Any]] = {}
            self.invoices: dict[str, dict[str, Any]] = {}
            self._replays: dict[str, Reply] = {}
            self.failures: list[int] = []

    def requests_to_path(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (a Stripe outage)."""
        with self._lock:
            self.failures.extend(statuses)

    # The API -----------------------------------------------------------------

    def respond_to(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if request.headers.get("authorization") != f"Bearer {SECRET_KEY}":
                return _error(401, "Invalid API Key provided", "invalid_request_error")
            if self.failures:
                return _error(self.failures.pop(0), "Stripe is down", "api_error")
            key = request.headers.get("idempotency-key")
            if request.method == "POST" and key and key in self._replays:
                return self._replays[key]
            reply = self._route(request)
            if request.method == "POST" and key and reply.status < 500:
                self._replays[key] = reply
            return reply

    def _route(self, request: RecordedRequest) -> Reply:
        path = request.path
        if request.method == "POST" and path == "/v1/customers":
            return self._create_customer(_form(request.body))
        if request.method == "POST" and path == "/v1/checkout/sessions":
            return self._create_checkout(_form(request.body))
        if request.method == "POST" and path == "/v1/billing_portal/sessions":
            return self._create_portal(_form(request.body))
        if request.method == "GET" and path.startswith("/v1/subscriptions/"):
            found = self.subscriptions.get(path.rsplit("/", 1)[1])
            return Reply(200, json=found) if found else _error(404, "No such subscription")
        if request.method == "GET" and path == "/v1/invoices":
            customer = request.query.get("customer")
            rows = [i for i in self.invoices.values() if i["customer"] == customer]
            return Reply(200, json={"object": "list", "data": rows, "has_more": False})
        return _error(404, f"Unrecognized request URL ({request.method}: {path})")

    def _create_customer(self, form: dict[str, Any]) -> Reply:
        customer = {
            "id": f"cus_{secrets.token_hex(7)}",
            "object": "customer",
            "email": form.get("email"),
            "name": form.get("name"),
            "metadata": form.get("metadata", {}),
            "created": int(time.time()),
        }
        self.customers[customer["id"]] = customer
        return Reply(200, json=customer)

    def _create_checkout(self, form: dict[str, Any]) -> Reply:
        if form.get("mode") != "subscription":
            return _error(400, "mode must be subscription here")
        if form.get("customer") not in self.customers:
            return _error(400, f"No such customer: '{form.get('customer')}'")
        items = form.get("line_items") or []
        if len(items) != 1 or items[0].get("price") not in PRICES:
            return _error(400, "No such price")
        if not form.get("success_url"):
            return _error(400, "Missing required param: success_url.")
        session_id = f"cs_test_{secrets.token_hex(12)}"
        checkout = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "subscription",
            "status": "open",
            "customer": form["customer"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": form.get("metadata", {}),
            "subscription": None,
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "price": items[0]["price"],
            "subscription_metadata": (form.get("subscription_data") or {}).get("metadata", {}),
        }
        self.checkout_sessions[session_id] = checkout
        return Reply(200, json=checkout)

    def _create_portal(self, form: dict[str, Any]) -> Reply:
        if form.get("customer") not in self.customers:
            return _error(400, f"No such customer: '{form.get('customer')}'")
        portal = {
            "id": f"bps_{secrets.token_hex(8)}",
            "object": "billing_portal.session",
            "customer": form["customer"],
            "return_url": form.get("return_url"),
            "url": f"https://billing.stripe.test/p/session/{secrets.token_hex(8)}",
        }
        return Reply(200, json=portal)

    # Stripe's side -----------------------------------------------------------

    def event(
        self,
        type: str,
        obj: dict[str, Any],
        *,
        created: int | None = None,
        timestamp: int | None = None,
        secret: str = WEBHOOK_SECRET,
    ) -> SignedEvent:
        """A webhook event as Stripe sends it, signed at `timestamp` (default now)."""
        event_id = f"evt_{secrets.token_hex(12)}"
        body = {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()) if created is None else created,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
            "data": {"object": json.loads(json.dumps(obj))},
        }
        payload = json.dumps(body).encode()
        return SignedEvent(event_id, type, payload, sign(payload, secret, timestamp))

    def complete_checkout(
        self, session_id: str, *, created: int | None = None
    ) -> list[SignedEvent]:
        """The customer paid: a subscription, its first invoice, and the events."""
        with self._lock:
            checkout = self.checkout_sessions[session_id]
            now = int(time.time()) if created is None else created
            subscription_id = f"sub_{secrets.token_hex(10)}"
            subscription = {
                "id": subscription_id,
                "object": "subscription",
                "customer": checkout["customer"],
                "status": "active",
                "cancel_at_period_end": False,
                "metadata": checkout["subscription_metadata"],
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": f"si_{secrets.token_hex(8)}",
                            "object": "subscription_item",
                            "price": {"id": checkout["price"], "object": "price"},
                            "quantity": 1,
                            "current_period_start": now,
                            "current_period_end": now + MONTH_SECONDS,
                        }
                    ],
                },
            }
            self.subscriptions[subscription_id] = subscription
            checkout.update(status="complete", subscription=subscription_id)
            invoice = self._invoice(subscription, "paid", now)
        return [
            self.event("checkout.session.completed", checkout, created=now),
            self.event("customer.subscription.created", subscription, created=now),
            self.event("invoice.paid", invoice, created=now),
        ]

    def _invoice(self, subscription: dict[str, Any], status: str, at: int) -> dict[str, Any]:
        price = subscription["items"]["data"][0]["price"]["id"]
        invoice = {
            "id": f"in_{secrets.token_hex(10)}",
            "object": "invoice",
            "customer": subscription["customer"],
            "subscription": subscription["id"],
            "number": f"FAKE-{len(self.invoices) + 1:04d}",
            "status": status,
            "amount_due": PRICES[price],
            "amount_paid": PRICES[price] if status == "paid" else 0,
            "currency": "usd",
            "hosted_invoice_url": f"https://invoice.stripe.test/i/{secrets.token_hex(6)}",
            "created": at,
        }
        self.invoices[invoice["id"]] = invoice
        return invoice

    def change_subscription(
        self,
        subscription_id: str,
        *,
        created: int | None = None,
        price: str | None = None,
        **fields: Any,
    ) -> SignedEvent:
        """customer.subscription.updated (or .deleted when the status becomes canceled)."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription.update(fields)
            if price is not None:
                subscription["items"]["data"][0]["price"] = {"id": price, "object": "price"}
            snapshot = json.loads(json.dumps(subscription))
        deleted = snapshot["status"] == "canceled"
        kind = "customer.subscription.deleted" if deleted else "customer.subscription.updated"
        return self.event(kind, snapshot, created=created)

    def fail_payment(
        self, subscription_id: str, *, created: int | None = None
    ) -> list[SignedEvent]:
        """A renewal payment failed: the invoice stays open, the subscription is past_due."""
        at = int(time.time()) if created is None else created
        with self._lock:
            invoice = self._invoice(self.subscriptions[subscription_id], "open", at)
        return [
            self.event("invoice.payment_failed", invoice, created=at),
            self.change_subscription(subscription_id, created=at, status="past_due"),
        ]
