"""`email`: send one message over SMTP with aiosmtplib.

Params: `to` (an address or a list), `subject`, `body` (plain text) and/or
`html`, optional `cc`, `reply_to`, `from`. Output: ``{message_id, recipients}``.
`from` is honoured only on the owner's own SMTP server; through the operator's
server mail is always sent as SMTP_FROM and `from` becomes the Reply-To.

Which server: the owner's `smtp` credential (host, port, username?, password?,
use_tls?, from_address) when they have one — its host is user-controlled, so it
must pass the same address policy as `http` steps — otherwise the operator's
SMTP_* settings. Connection problems, timeouts and 4xx replies are transient;
refused logins, refused recipients and other 5xx replies are permanent.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx

from botskis.execution.outbound import AddressPolicy, BlockedAddress
from botskis.execution.steps.base import (
    StepContext,
    StepFailure,
    StepResult,
    missing_credential,
    require,
    unknown_params,
)

ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$|^[^@\s<>,;\"]+@localhost$")
MAX_RECIPIENTS = 50
TIMEOUT_SECONDS = 30.0

PARAMS = frozenset({"to", "cc", "subject", "body", "html", "reply_to", "from"})


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None
    sender: str | None
    user_supplied: bool


def _invalid(message: str) -> StepFailure:
    return StepFailure(message, kind="invalid_config")


def _addresses(value: Any, name: str) -> list[str]:
    if value in (None, ""):
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    addresses = []
    for item in items:
        text = str(item).strip()
        _, address = email.utils.parseaddr(text)
        if not ADDRESS.match(address) or any(c in text for c in "\r\n\0"):
            raise _invalid(f"params.{name}: {str(item).strip()!r} is not an email address")
        addresses.append(address)
    return addresses


async def _server(ctx: StepContext) -> SmtpServer:
    secret = await ctx.credential("smtp")
    if secret is not None:
        try:
            port = int(secret.get("port") or 587)
        except (TypeError, ValueError):
            raise _invalid("the 'smtp' credential has an invalid port") from None
        if not secret.get("host"):
            raise _invalid("the 'smtp' credential has no host")
        use_tls = bool(secret.get("use_tls")) and str(secret.get("use_tls")).lower() != "false"
        return SmtpServer(
            host=str(secret["host"]),
            port=port,
            username=secret.get("username") or None,
            password=secret.get("password") or None,
            use_tls=use_tls,
            start_tls=False if use_tls else None,
            sender=secret.get("from_address") or None,
            user_supplied=True,
        )
    settings = ctx.settings
    if not settings.smtp_host:
        raise missing_credential("smtp", "(or the operator sets SMTP_HOST)")
    return SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        use_tls=False,
        start_tls=settings.smtp_starttls,
        sender=settings.smtp_from,
        user_supplied=False,
    )


class EmailStep:
    name = "email"

    def validate_params(self, params: Mapping[str, Any]) -> list[str]:
        problems = require(params, "to", "subject")
        if params.get("body") in (None, "") and params.get("html") in (None, ""):
            problems.append("params.body (or params.html) is required")
        return problems + unknown_params(params, PARAMS)

    async def run(self, params: dict[str, Any], ctx: StepContext) -> StepResult:
        to = _addresses(params.get("to"), "to")
        cc = _addresses(params.get("cc"), "cc")
        if not to:
            raise _invalid("params.to rendered empty")
        if len(to) + len(cc) > MAX_RECIPIENTS:
            raise _invalid(f"an email step may send to at most {MAX_RECIPIENTS} recipients")
        subject = " ".join(str(params.get("subject") or "").split())
        if not subject:
            raise _invalid("params.subject rendered empty")
        server = await _server(ctx)
        requested = _addresses(params.get("from"), "from")
        reply_to = _addresses(params.get("reply_to"), "reply_to")
        if server.user_supplied:
            senders = requested or _addresses(server.sender, "from")
        else:
            # The operator's relay never sends as an address a user typed: that
            # address becomes Reply-To instead, so replies still reach it.
            senders = _addresses(server.sender, "from")
            reply_to = reply_to or requested
        if not senders:
            raise _invalid("no sender address: set SMTP_FROM or the credential's from_address")
        sender = senders[0]

        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        if reply_to:
            message["Reply-To"] = reply_to[0]
        message["Subject"] = subject
        message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        message_id = email.utils.make_msgid(domain=sender.rsplit("@", 1)[1])
        message["Message-ID"] = message_id
        message.set_content(str(params.get("body") or ""))
        if params.get("html"):
            message.add_alternative(str(params["html"]), subtype="html")

        if server.user_supplied:
            await _check_destination(ctx, server)
        try:
            await aiosmtplib.send(
                message,
                sender=sender,
                recipients=to + cc,
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.use_tls,
                start_tls=server.start_tls,
                timeout=TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPException as exc:
            raise _failure(server, exc) from None
        except OSError as exc:
            raise StepFailure(
                f"cannot reach SMTP server {server.host}:{server.port}: {exc}",
                kind="connection",
                transient=True,
            ) from None
        return StepResult(output={"message_id": message_id, "recipients": to + cc})


async def _check_destination(ctx: StepContext, server: SmtpServer) -> None:
    try:
        await AddressPolicy.from_settings(ctx.settings).resolve(server.host, server.port)
    except BlockedAddress as exc:
        raise StepFailure(str(exc), kind="blocked_address") from None
    except httpx.ConnectError as exc:
        raise StepFailure(str(exc), kind="connection", transient=True) from None


def _failure(server: SmtpServer, exc: aiosmtplib.SMTPException) -> StepFailure:
    where = f"SMTP server {server.host}:{server.port}"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return StepFailure(
            f"{where} refused the login ({exc.code}); check the smtp credential", kind="auth"
        )
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = ", ".join(r.recipient for r in exc.recipients)
        return StepFailure(f"{where} refused the recipients: {refused}", kind="smtp_error")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return StepFailure(f"{where} did not answer in time", kind="timeout", transient=True)
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return StepFailure(f"cannot reach {where}: {exc}", kind="connection", transient=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        transient = 400 <= exc.code < 500
        return StepFailure(
            f"{where} answered {exc.code}: {exc.message}", kind="smtp_error", transient=transient
        )
    return StepFailure(f"{where} failed: {exc}", kind="smtp_error")
