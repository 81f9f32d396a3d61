"""A step context wired to the fake servers: credentials come from a dict,
notifications are collected in a list, outbound HTTP uses the real guarded client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from botskis.config import Settings
from botskis.execution.outbound import create_client
from botskis.execution.steps import StepContext
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.smtp_server import FakeSmtpServer

ContextFactory = Callable[..., "Harness"]


@dataclass
class Harness:
    ctx: StepContext
    credentials: dict[str, dict[str, Any]]
    notifications: list[tuple[str, str, str]] = field(default_factory=list)
    credential_lookups: list[str] = field(default_factory=list)


def step_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"http_allowlist": "127.0.0.1"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings_for_fakes(fake_openai: FakeOpenAIServer, fake_smtp: FakeSmtpServer) -> Settings:
    return step_settings(
        openai_base_url=fake_openai.base_url,
        openai_api_key="server-key",
        openai_model="server-model",
        smtp_host=fake_smtp.host,
        smtp_port=fake_smtp.port,
        smtp_from="bot@example.com",
        smtp_starttls=False,
    )


@pytest.fixture
async def make_context(settings_for_fakes: Settings) -> AsyncIterator[ContextFactory]:
    clients = []

    def factory(
        *,
        settings: Settings | None = None,
        variables: dict[str, Any] | None = None,
        credentials: dict[str, dict[str, Any]] | None = None,
    ) -> Harness:
        chosen = settings or settings_for_fakes
        http = create_client(chosen)
        clients.append(http)
        secrets = dict(credentials or {})
        notifications: list[tuple[str, str, str]] = []
        lookups: list[str] = []

        async def credential(kind: str) -> dict[str, Any] | None:
            lookups.append(kind)
            return secrets.get(kind)

        async def notify(level: str, title: str, message: str) -> str:
            notifications.append((level, title, message))
            return f"n-{len(notifications)}"

        ctx = StepContext(
            settings=chosen,
            run_id=uuid.uuid4(),
            agent_id=uuid.uuid4(),
            owner_id=uuid.uuid4(),
            variables={"input": {}, "config": {}, "steps": {}, "now": "2026-01-01T00:00:00Z"}
            | (variables or {}),
            credential=credential,
            notify=notify,
            http=http,
        )
        return Harness(ctx, secrets, notifications, lookups)

    yield factory
    for client in clients:
        await client.aclose()
