"""A real SMTP server (aiosmtpd) on a free 127.0.0.1 port that keeps what it receives.

It offers AUTH PLAIN/LOGIN without TLS so credentials can be tested; set
`password` to make it refuse any other password. `messages` holds each delivered
message parsed, `logins` each (username, password) that authenticated.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        """The plain-text body (the text/plain part of a multipart message)."""
        part = self.message.get_body(preferencelist=("plain",))
        text = "" if part is None else str(part.get_content())  # type: ignore[attr-defined]
        return text.replace("\r\n", "\n")

    @property
    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        if part is None:
            return None
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FakeSmtpServer:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._logins: list[tuple[str, str]] = []
        self.password: str | None = None
        self._controller: Controller | None = None
        self.port = 0

    def start(self) -> Self:
        self.port = _free_port()
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
            auth_required=False,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def logins(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._logins)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._logins.clear()
            self.password = None

    def wait_for_messages(self, count: int, *, timeout: float = 10.0) -> list[ReceivedMessage]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} messages, got {len(self._messages)}")
                self._lock.wait(remaining)
            return list(self._messages)

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        password = auth_data.password.decode()
        if self.password is not None and password != self.password:
            return AuthResult(success=False, handled=False)
        with self._lock:
            self._logins.append((login, password))
        return AuthResult(success=True)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        received = ReceivedMessage(
            mail_from=str(envelope.mail_from),
            recipients=list(envelope.rcpt_tos),
            message=parsed,
        )
        with self._lock:
            self._messages.append(received)
            self._lock.notify_all()
        return "250 Message accepted for delivery"
