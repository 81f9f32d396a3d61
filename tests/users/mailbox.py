"""Account-mail test support: settings that deliver to the fake SMTP server, and
reading the links out of what it received."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from botskis.config import Settings
from tests.conftest import make_settings
from tests.fakes.smtp_server import FakeSmtpServer, ReceivedMessage

PUBLIC_URL = "https://botskis.example"
LINK = re.compile(r"https://botskis\.example/(verify-email|reset-password)\?token=([A-Za-z0-9_-]+)")


def smtp_settings(
    database_url: str, log_dir: Path, smtp: FakeSmtpServer, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_starttls": False,
        "smtp_from": "Botskis <accounts@botskis.example>",
        "public_url": PUBLIC_URL,
        "mail_poll_seconds": 0.2,
    }
    values.update(overrides)
    return make_settings(database_url, log_dir, **values)


def token_in(message: ReceivedMessage) -> str:
    """The single-use token of the message's link (the same in both parts)."""
    match = LINK.search(message.text)
    assert match is not None, message.text
    html = message.html or ""
    assert match.group(0) in html
    return match.group(2)


async def mails_to(smtp: FakeSmtpServer, address: str, count: int = 1) -> list[ReceivedMessage]:
    """Wait until `count` mails reached `address`; return them, oldest first."""
    seen = 0
    while True:
        # In a thread: the delivery loop runs on this event loop.
        messages = await asyncio.to_thread(smtp.wait_for_messages, seen + 1)
        mine = [m for m in messages if address.lower() in {r.lower() for r in m.recipients}]
        if len(mine) >= count:
            return mine
        seen = len(messages)
