"""The account-mail outbox: same-transaction writes, sealed bodies, SMTP delivery
with retries, and failure with a reason."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from botskis.config import Settings
from botskis.database.connection import Database
from botskis.mail.delivery import MailDelivery
from botskis.mail.models import MailStatus, OutboxMail
from botskis.mail.service import MailKind, queue_mail
from botskis.users.models import User
from tests.fakes.smtp_server import FakeSmtpServer
from tests.users.mailbox import smtp_settings

LINK = "https://botskis.example/verify-email?token=secret-link-token"


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    yield db
    await db.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_smtp: FakeSmtpServer) -> Settings:
    return smtp_settings(
        database_url,
        tmp_path / "logs",
        fake_smtp,
        mail_max_attempts=3,
        mail_retry_base_seconds=0.001,
        mail_retry_max_seconds=0.001,
    )


async def _user(database: Database, name: str = "Ada <b>Lovelace</b>") -> User:
    async with database.transaction() as session:
        user = User(email="ada@example.com", hashed_password="x", full_name=name)
        session.add(user)
    return user


async def _queue(database: Database, settings: Settings, user: User) -> OutboxMail:
    async with database.transaction() as session:
        return await queue_mail(
            session,
            settings,
            kind=MailKind.VERIFY_EMAIL,
            to=user.email,
            user_id=user.id,
            link=LINK,
            full_name=user.full_name,
            ttl="48 hours",
        )


async def _row(database: Database, mail_id: object) -> OutboxMail:
    async with database.sessions() as session:
        row = await session.get(OutboxMail, mail_id)
        assert row is not None
        return row


async def test_mail_is_sent_with_text_and_escaped_html_and_its_body_then_dropped(
    database: Database, settings: Settings, fake_smtp: FakeSmtpServer
) -> None:
    user = await _user(database)
    mail = await _queue(database, settings, user)
    stored = await _row(database, mail.id)
    assert stored.ciphertext is not None and b"secret-link-token" not in stored.ciphertext

    assert await MailDelivery(database, settings, {}).deliver_due() == 1
    (received,) = fake_smtp.messages
    assert received.recipients == ["ada@example.com"]
    assert LINK in received.text and "Ada <b>Lovelace</b>" in received.text
    assert received.html is not None and LINK in received.html
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in received.html
    assert received.message["Auto-Submitted"] == "auto-generated"

    sent = await _row(database, mail.id)
    assert sent.status == MailStatus.SENT and sent.sent_at is not None
    assert sent.ciphertext is None and sent.nonce is None
    assert await MailDelivery(database, settings, {}).deliver_due() == 0


async def test_rolled_back_change_queues_no_mail(database: Database, settings: Settings) -> None:
    user = await _user(database)
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await queue_mail(
                session,
                settings,
                kind=MailKind.VERIFY_EMAIL,
                to=user.email,
                user_id=user.id,
                link=LINK,
                full_name="x",
                ttl="1 hour",
            )
            raise RuntimeError("the change failed")
    async with database.sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)) == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_server_is_retried_then_the_mail_fails_with_its_reason(
    database: Database, settings: Settings
) -> None:
    user = await _user(database)
    mail = await _queue(database, settings, user)
    down = settings.model_copy(update={"smtp_port": _closed_port()})
    delivery = MailDelivery(database, down, {})
    assert await delivery.deliver_due() == 1
    first = await _row(database, mail.id)
    assert first.status == MailStatus.PENDING and first.attempts == 1
    assert first.last_error is not None and "SMTPConnect" in first.last_error
    assert first.ciphertext is not None

    await delivery.deliver_due()
    await delivery.deliver_due()
    failed = await _row(database, mail.id)
    assert failed.status == MailStatus.FAILED and failed.attempts == 3
    assert failed.last_error is not None and failed.last_error.startswith("gave up after 3")
    assert failed.ciphertext is None
    assert await delivery.deliver_due() == 0


async def test_a_mail_that_failed_once_is_delivered_when_the_server_is_back(
    database: Database, settings: Settings, fake_smtp: FakeSmtpServer
) -> None:
    user = await _user(database)
    mail = await _queue(database, settings, user)
    fake_smtp.password = "the right one"
    refused = settings.model_copy(update={"smtp_username": "u", "smtp_password": "wrong"})
    await MailDelivery(database, refused, {}).deliver_due()
    assert (await _row(database, mail.id)).status == MailStatus.PENDING
    assert fake_smtp.messages == []

    fixed = settings.model_copy(update={"smtp_username": "u", "smtp_password": "the right one"})
    await MailDelivery(database, fixed, {}).deliver_due()
    delivered = await _row(database, mail.id)
    assert delivered.status == MailStatus.SENT and delivered.attempts == 2
    assert len(fake_smtp.messages) == 1


async def test_backoff_waits_before_the_next_attempt(
    database: Database, settings: Settings
) -> None:
    user = await _user(database)
    mail = await _queue(database, settings, user)
    slow = settings.model_copy(
        update={
            "smtp_port": _closed_port(),
            "mail_retry_base_seconds": 3600.0,
            "mail_retry_max_seconds": 3600.0,
        }
    )
    delivery = MailDelivery(database, slow, {})
    assert await delivery.deliver_due() == 1
    # Not due again for an hour.
    assert await delivery.deliver_due() == 0
    assert (await _row(database, mail.id)).attempts == 1


async def test_a_mail_whose_key_is_gone_fails_with_the_reason(
    database: Database, settings: Settings
) -> None:
    user = await _user(database)
    mail = await _queue(database, settings, user)
    other_key = settings.model_copy(update={"secret_key": "another-secret-key-of-enough-length"})
    await MailDelivery(database, other_key, {}).deliver_due()
    failed = await _row(database, mail.id)
    assert failed.status == MailStatus.FAILED
    assert failed.last_error is not None and "key" in failed.last_error
