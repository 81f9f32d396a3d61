"""Delivering the outbox: the worker claims due mails, sends them over SMTP
(aiosmtplib) and records the outcome.

* **Claim.** One short transaction moves each due mail's `next_attempt_at`
  past the time a send can take and counts the attempt (`FOR UPDATE SKIP
  LOCKED` on PostgreSQL, so workers never claim the same row). A worker that
  dies mid-send leaves the mail to be claimed again after that lease:
  delivery is at least once.
* **Compose.** A mail queued without a body is composed in the claim
  transaction by the composer registered for its kind, which may find that
  there is nothing to send (the mail is then discarded).
* **Retry.** A failed send is retried after `MAIL_RETRY_BASE_SECONDS`, doubling
  per attempt up to `MAIL_RETRY_MAX_SECONDS`; after `MAIL_MAX_ATTEMPTS`, or
  when the server refuses the recipient, the mail is `failed` with the reason.
* **No SMTP.** With no `SMTP_HOST` the mail is written to the log at INFO with
  its link instead, so a laptop install can still verify and reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib
from loguru import logger
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.credentials.vault import UndecryptableSecret, Vault
from botskis.database.base import utcnow
from botskis.database.connection import Database
from botskis.mail.models import MailStatus, OutboxMail
from botskis.mail.service import RenderedMail, mail_wake_events, seal, unseal

SMTP_TIMEOUT_SECONDS = 30.0
# How long a claimed mail is left to its sender before another worker may retry it.
CLAIM_LEASE_SECONDS = 3 * SMTP_TIMEOUT_SECONDS
BATCH = 20
REASON_MAX = 500

Composer = Callable[[AsyncSession, Settings, OutboxMail], Awaitable[RenderedMail | None]]


@dataclass(frozen=True, slots=True)
class ClaimedMail:
    id: uuid.UUID
    kind: str
    to: str
    attempts: int
    rendered: RenderedMail | None
    # Why the mail cannot be sent at all (its body does not decrypt).
    broken: str | None = None


class PermanentFailure(Exception):
    """The server refused the mail in a way a retry will not change."""


def sender_address(settings: Settings) -> str:
    if settings.smtp_from:
        return settings.smtp_from
    host = urlsplit(settings.public_base_url).hostname or "localhost"
    return f"Botskis <no-reply@{host}>"


def retry_delay(settings: Settings, attempts: int) -> float:
    """Exponential backoff with up to 10 % jitter, so a recovering server is not
    hit by every queued mail at once."""
    delay: float = min(
        settings.mail_retry_base_seconds * 2.0 ** max(0, attempts - 1),
        settings.mail_retry_max_seconds,
    )
    return delay * (1 + random.random() / 10)


class MailDelivery:
    def __init__(
        self, database: Database, settings: Settings, composers: Mapping[str, Composer]
    ) -> None:
        self.database = database
        self.settings = settings
        self.composers = composers
        self.vault = Vault.from_settings(settings)
        self.log = logger.bind(component="mail")

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; a committed mail wakes the loop at once."""
        wake = asyncio.Event()
        mail_wake_events.add(wake)
        try:
            while not stop.is_set():
                wake.clear()
                try:
                    handled = await self.deliver_due()
                except Exception:
                    self.log.exception("mail delivery failed")
                    handled = 0
                if handled >= BATCH:
                    continue
                waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())}
                await asyncio.wait(
                    waiters,
                    timeout=self.settings.mail_poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for waiter in waiters:
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter
        finally:
            mail_wake_events.discard(wake)

    async def deliver_due(self) -> int:
        """Claim, send and record one batch of due mails; the number handled."""
        claimed = await self._claim()
        for mail in claimed:
            await self._deliver(mail)
        return len(claimed)

    async def _claim(self) -> list[ClaimedMail]:
        now = utcnow()
        async with self.database.transaction() as session:
            ids = list(
                await session.scalars(
                    select(OutboxMail.id)
                    .where(
                        OutboxMail.status == MailStatus.PENDING, OutboxMail.next_attempt_at <= now
                    )
                    .order_by(OutboxMail.next_attempt_at)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            rows = list(
                await session.scalars(
                    update(OutboxMail)
                    .where(
                        OutboxMail.id.in_(ids),
                        OutboxMail.status == MailStatus.PENDING,
                        OutboxMail.next_attempt_at <= now,
                    )
                    .values(
                        next_attempt_at=now + timedelta(seconds=CLAIM_LEASE_SECONDS),
                        attempts=OutboxMail.attempts + 1,
                    )
                    .returning(OutboxMail)
                    .execution_options(synchronize_session=False)
                )
            )
            return [await self._prepare(session, row) for row in rows]

    async def _prepare(self, session: AsyncSession, row: OutboxMail) -> ClaimedMail:
        rendered: RenderedMail | None
        if row.ciphertext is None:
            composer = self.composers.get(row.kind)
            if composer is None:
                return self._claimed(row, None, broken=f"no composer for mail kind {row.kind}")
            rendered = await composer(session, self.settings, row)
            if rendered is None:
                row.status = MailStatus.DISCARDED
                row.last_error = "nothing to send"
                row.to_address = ""
                return self._claimed(row, None)
            # Sealed now: a retry sends the same body (and the same single-use link).
            seal(self.vault, row, rendered)
            return self._claimed(row, rendered)
        try:
            return self._claimed(row, unseal(self.vault, row))
        except UndecryptableSecret as exc:
            return self._claimed(row, None, broken=str(exc))

    @staticmethod
    def _claimed(
        row: OutboxMail, rendered: RenderedMail | None, broken: str | None = None
    ) -> ClaimedMail:
        return ClaimedMail(row.id, row.kind, row.to_address, row.attempts, rendered, broken)

    async def _deliver(self, mail: ClaimedMail) -> None:
        log = self.log.bind(mail_id=str(mail.id), mail_kind=mail.kind, attempt=mail.attempts)
        if mail.rendered is None:
            if mail.broken is not None:
                log.error("mail cannot be sent: {}", mail.broken)
                await self._record(mail, failed=mail.broken)
            return
        try:
            await self._send(mail, mail.rendered)
        except PermanentFailure as exc:
            log.warning("mail refused: {}", exc)
            await self._record(mail, failed=str(exc))
        except (aiosmtplib.SMTPException, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"[:REASON_MAX]
            if mail.attempts >= self.settings.mail_max_attempts:
                log.error("mail failed after {} attempts: {}", mail.attempts, reason)
                await self._record(mail, failed=f"gave up after {mail.attempts} attempts: {reason}")
            else:
                log.warning("mail not delivered, will retry: {}", reason)
                await self._record(mail, retry=reason)
        else:
            await self._record(mail)

    async def _send(self, mail: ClaimedMail, rendered: RenderedMail) -> None:
        settings = self.settings
        if not settings.smtp_host:
            self.log.bind(mail_id=str(mail.id), mail_kind=mail.kind, to=mail.to).info(
                "mail written to the log (no SMTP_HOST configured): {} {}",
                rendered.subject,
                rendered.link or "",
            )
            return
        sender = sender_address(settings)
        message = EmailMessage()
        message["From"] = sender
        message["To"] = mail.to
        message["Subject"] = rendered.subject
        message["Date"] = email.utils.formatdate(usegmt=True)
        message["Message-ID"] = email.utils.make_msgid(
            domain=email.utils.parseaddr(sender)[1].rpartition("@")[2] or None
        )
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                start_tls=settings.smtp_starttls,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise PermanentFailure(
                f"the SMTP server refused the recipient: {refused}"[:REASON_MAX]
            ) from None

    async def _record(
        self, mail: ClaimedMail, *, failed: str | None = None, retry: str | None = None
    ) -> None:
        now = utcnow()
        values: dict[str, object]
        if retry is not None:
            values = {
                "last_error": retry,
                "next_attempt_at": now
                + timedelta(seconds=retry_delay(self.settings, mail.attempts)),
            }
        else:
            # Sent or given up: the body and its links are not kept.
            values = {"key_id": None, "nonce": None, "ciphertext": None}
            if failed is not None:
                values.update(status=MailStatus.FAILED, last_error=failed[:REASON_MAX])
            else:
                values.update(status=MailStatus.SENT, sent_at=now, last_error=None)
        async with self.database.transaction() as session:
            await session.execute(
                update(OutboxMail)
                # A sender slower than its lease lost the mail to another worker.
                .where(OutboxMail.id == mail.id, OutboxMail.attempts == mail.attempts)
                .values(**values)
            )
