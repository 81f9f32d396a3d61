"""Credential kinds: which secret fields each integration needs and how an
`http` step puts them on a request. Adding a kind is one entry in
`CREDENTIAL_KINDS`."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class HttpAuth:
    """What to add to an outbound request: headers, query params, or the URL itself."""

    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    url: str | None = None


def _no_http_auth(_secret: Mapping[str, Any]) -> HttpAuth:
    return HttpAuth()


@dataclass(frozen=True, slots=True)
class CredentialKind:
    name: str
    description: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # The field whose tail is shown back as a hint; None shows no characters.
    hint_field: str | None = None
    auth: Callable[[Mapping[str, Any]], HttpAuth] = _no_http_auth

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional

    def http_auth(self, secret: Mapping[str, Any]) -> HttpAuth:
        return self.auth(secret)


def _bearer(key: str) -> Callable[[Mapping[str, Any]], HttpAuth]:
    def auth(secret: Mapping[str, Any]) -> HttpAuth:
        return HttpAuth(headers={"Authorization": f"Bearer {secret[key]}"})

    return auth


def _basic(secret: Mapping[str, Any]) -> HttpAuth:
    pair = f"{secret['username']}:{secret['password']}".encode()
    return HttpAuth(headers={"Authorization": "Basic " + base64.b64encode(pair).decode()})


def _header(secret: Mapping[str, Any]) -> HttpAuth:
    return HttpAuth(headers={str(secret["header_name"]): str(secret["value"])})


def _slack(secret: Mapping[str, Any]) -> HttpAuth:
    return HttpAuth(url=str(secret["webhook_url"]))


def _trello(secret: Mapping[str, Any]) -> HttpAuth:
    return HttpAuth(params={"key": str(secret["api_key"]), "token": str(secret["token"])})


def _shopify(secret: Mapping[str, Any]) -> HttpAuth:
    return HttpAuth(headers={"X-Shopify-Access-Token": str(secret["access_token"])})


CREDENTIAL_KINDS: dict[str, CredentialKind] = {
    kind.name: kind
    for kind in (
        CredentialKind(
            "openai",
            "OpenAI or any OpenAI-compatible server",
            required=("api_key",),
            optional=("base_url", "model"),
            hint_field="api_key",
            auth=_bearer("api_key"),
        ),
        CredentialKind(
            "slack_webhook",
            "Slack incoming webhook URL",
            required=("webhook_url",),
            hint_field="webhook_url",
            auth=_slack,
        ),
        CredentialKind(
            "http_bearer",
            "Any API taking Authorization: Bearer",
            required=("token",),
            hint_field="token",
            auth=_bearer("token"),
        ),
        CredentialKind(
            "http_basic",
            "Any API taking HTTP basic auth",
            required=("username", "password"),
            hint_field="password",
            auth=_basic,
        ),
        CredentialKind(
            "http_header",
            "Any API taking a key in a custom header",
            required=("header_name", "value"),
            hint_field="value",
            auth=_header,
        ),
        CredentialKind(
            "smtp",
            "An SMTP server for email steps",
            required=("host", "port", "from_address"),
            optional=("username", "password", "use_tls"),
            hint_field="password",
        ),
        CredentialKind(
            "trello",
            "Trello API key and token",
            required=("api_key", "token"),
            hint_field="token",
            auth=_trello,
        ),
        CredentialKind(
            "hubspot",
            "HubSpot private app access token",
            required=("access_token",),
            hint_field="access_token",
            auth=_bearer("access_token"),
        ),
        CredentialKind(
            "shopify",
            "Shopify Admin API access token",
            required=("shop_domain", "access_token"),
            hint_field="access_token",
            auth=_shopify,
        ),
        CredentialKind(
            "stripe",
            "Stripe secret key",
            required=("secret_key",),
            hint_field="secret_key",
            auth=_bearer("secret_key"),
        ),
    )
}
