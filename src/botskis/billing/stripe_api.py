"""The official Stripe library, one client per process, pointed at STRIPE_API_BASE.

Calls go through its async methods on an httpx client of its own; the library
retries network failures with idempotency keys, so a retried create is not
doubled."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from botskis.config import Settings

TIMEOUT_SECONDS = 20.0
NETWORK_RETRIES = 2


@dataclass(frozen=True, slots=True)
class StripeApi:
    client: stripe.StripeClient
    http: stripe.HTTPXClient

    async def close(self) -> None:
        await self.http.close_async()  # type: ignore[no-untyped-call]


def create_stripe_api(settings: Settings) -> StripeApi | None:
    """None when no secret key is set: billing is then not configured."""
    if not settings.stripe_secret_key:
        return None
    http = stripe.HTTPXClient(timeout=TIMEOUT_SECONDS)
    client = stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": settings.stripe_api_base.rstrip("/")},
        http_client=http,
        max_network_retries=NETWORK_RETRIES,
    )
    return StripeApi(client=client, http=http)
