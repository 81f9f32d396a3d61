"""The account mail delivery loop the worker runs, with the users domain's
composers (mail queued without a body, composed when the worker claims it)."""

from __future__ import annotations

import asyncio

from botskis.config import Settings
from botskis.database.connection import Database
from botskis.mail.delivery import Composer, MailDelivery
from botskis.mail.service import MailKind
from botskis.users import verification

COMPOSERS: dict[str, Composer] = {MailKind.PASSWORD_RESET: verification.compose_password_reset}


def account_mail_delivery(database: Database, settings: Settings) -> MailDelivery:
    return MailDelivery(database, settings, COMPOSERS)


def start_mail_delivery(
    database: Database, settings: Settings, stop: asyncio.Event
) -> asyncio.Task[None]:
    """Deliver the outbox until `stop` is set."""
    delivery = account_mail_delivery(database, settings)
    return asyncio.create_task(delivery.run(stop), name="worker-mail")
