"""Templates run end to end against the local fakes: the operator's LLM is the
fake OpenAI server, its SMTP server the fake SMTP server, and outbound http may
reach 127.0.0.1 where the fake vendor APIs listen."""

from __future__ import annotations

from pathlib import Path

import pytest

from botskis.config import Settings
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.smtp_server import FakeSmtpServer


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, fake_openai: FakeOpenAIServer, fake_smtp: FakeSmtpServer
) -> Settings:
    return make_settings(
        database_url,
        tmp_path / "logs",
        http_allowlist="127.0.0.1",
        openai_base_url=fake_openai.base_url,
        openai_api_key="sk-operator-test",
        smtp_host=fake_smtp.host,
        smtp_port=fake_smtp.port,
        smtp_from="agents@botskis.test",
        smtp_starttls=False,
        worker_poll_seconds=0.2,
        worker_heartbeat_seconds=0.2,
        mail_poll_seconds=0.2,
    )
