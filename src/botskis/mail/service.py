"""Account mail: rendering from the package's Jinja templates and queuing in the
outbox, inside the caller's unit of work (so a rolled-back change sends nothing).

Each kind has a plain-text and an HTML template in mail/templates/ and a
subject here. The worker delivers the outbox (mail/delivery.py); a committed
mail wakes the delivery loop of the same process at once.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.credentials.vault import Sealed, Vault
from botskis.mail.models import OutboxMail


class MailKind(StrEnum):
    VERIFY_EMAIL = "verify_email"
    CHANGE_EMAIL = "change_email"
    EMAIL_CHANGED = "email_changed"
    PASSWORD_RESET = "password_reset"  # noqa: S105
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    TWO_FACTOR_CHANGED = "two_factor_changed"
    NEW_LOGIN = "new_login"


SUBJECTS: dict[MailKind, str] = {
    MailKind.VERIFY_EMAIL: "Verify your email address",
    MailKind.CHANGE_EMAIL: "Confirm your new email address",
    MailKind.EMAIL_CHANGED: "Your login address was changed",
    MailKind.PASSWORD_RESET: "Reset your password",
    MailKind.PASSWORD_CHANGED: "Your password was changed",
    MailKind.TWO_FACTOR_CHANGED: "Two-factor authentication changed",
    MailKind.NEW_LOGIN: "New sign-in to your account",
}

_templates = Environment(
    loader=PackageLoader("botskis.mail", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_WAKE_KEY = "botskis.mail_wake"
mail_wake_events: set[asyncio.Event] = set()


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    # The single-use link the mail carries, if any: written to the log instead of
    # sending when no SMTP server is configured.
    link: str | None


def render(
    settings: Settings, kind: MailKind, *, link: str | None = None, **context: Any
) -> RenderedMail:
    subject = SUBJECTS[kind]
    values = {"subject": subject, "public_url": settings.public_base_url, "link": link, **context}
    text = _templates.get_template(f"{kind}.txt").render(values)
    html = _templates.get_template(f"{kind}.html").render(values)
    return RenderedMail(subject, text, html, link)


def _aad(mail_id: uuid.UUID) -> bytes:
    return b"mail:" + mail_id.bytes


def seal(vault: Vault, mail: OutboxMail, rendered: RenderedMail) -> None:
    sealed = vault.encrypt(
        {"text": rendered.text, "html": rendered.html, "link": rendered.link}, aad=_aad(mail.id)
    )
    mail.subject = rendered.subject
    mail.key_id, mail.nonce, mail.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext


def unseal(vault: Vault, mail: OutboxMail) -> RenderedMail:
    assert mail.key_id is not None and mail.nonce is not None and mail.ciphertext is not None
    body = vault.decrypt(Sealed(mail.key_id, mail.nonce, mail.ciphertext), aad=_aad(mail.id))
    return RenderedMail(mail.subject or "", body["text"], body["html"], body.get("link"))


async def reencrypt_queued_mail(session: AsyncSession, vault: Vault) -> int:
    """Re-encrypt the bodies still waiting in the outbox under the current key
    (rotate-credentials); how many were. Sent mails keep no body."""
    rows = list(
        await session.scalars(
            select(OutboxMail).where(
                OutboxMail.ciphertext.is_not(None), OutboxMail.key_id != vault.current_key_id
            )
        )
    )
    for mail in rows:
        seal(vault, mail, unseal(vault, mail))
    await session.flush()
    return len(rows)


async def queue_mail(
    session: AsyncSession,
    settings: Settings,
    *,
    kind: MailKind,
    to: str,
    user_id: uuid.UUID | None,
    link: str | None = None,
    **context: Any,
) -> OutboxMail:
    """Render and queue one mail in the caller's transaction."""
    rendered = render(settings, kind, link=link, to_address=to, **context)
    mail = OutboxMail(id=uuid.uuid4(), kind=kind, to_address=to, user_id=user_id)
    seal(Vault.from_settings(settings), mail, rendered)
    session.add(mail)
    _wake_after_commit(session)
    return mail


def queue_composed_later(
    session: AsyncSession, *, kind: MailKind, to: str, user_id: uuid.UUID | None = None
) -> OutboxMail:
    """Queue a mail the worker composes when it claims it (see delivery.Composer)."""
    mail = OutboxMail(id=uuid.uuid4(), kind=kind, to_address=to, user_id=user_id)
    session.add(mail)
    _wake_after_commit(session)
    return mail


def wake_delivery() -> None:
    for wake in list(mail_wake_events):
        wake.set()


def _after_commit(session: Any) -> None:
    if session.info.pop(_WAKE_KEY, None):
        wake_delivery()


def _after_soft_rollback(session: Any, _previous: Any) -> None:
    session.info.pop(_WAKE_KEY, None)


def _wake_after_commit(session: AsyncSession) -> None:
    session.info[_WAKE_KEY] = True
    sync_session = session.sync_session
    if not event.contains(sync_session, "after_commit", _after_commit):
        event.listen(sync_session, "after_commit", _after_commit)
        event.listen(sync_session, "after_soft_rollback", _after_soft_rollback)
