"""How a step fails, and which failures are worth retrying.

A step raises `StepFailure`; the run engine retries it when `transient` is true
(honouring `retry_after`, in seconds) and fails the run at once otherwise.

Transient: connection and read errors, timeouts, 5xx, 429.
Permanent: 401/403 from an integration, other 4xx, a missing credential, invalid
configuration, a render error, LLM output failing its schema, an address refused
by the outbound policy, an oversized response.

`kind` is a short, stable machine name (stored as the run's `error_kind` and used
in error fingerprints): timeout, connection, upstream_error, rate_limited, auth,
http_error, missing_credential, invalid_config, render, schema, blocked_address,
response_too_large, foreach_limit, smtp_error, llm_error.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import httpx

MAX_RETRY_AFTER_SECONDS = 3600.0
BODY_SNIPPET_CHARS = 300


class StepFailure(Exception):
    """One attempt of a step failed; `transient` says whether another may succeed."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "step_error",
        transient: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.transient = transient
        self.retry_after = retry_after


class RunStopped(Exception):
    """A `filter` step ended the run early; the run succeeds with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds (delta or HTTP date), capped; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= BODY_SNIPPET_CHARS else text[:BODY_SNIPPET_CHARS] + "..."


def failure_for_status(
    service: str, status: int, *, body: str = "", retry_after: str | None = None
) -> StepFailure:
    """Classify an unwanted HTTP status from `service` (a host name or "LLM")."""
    detail = f": {snippet(body)}" if body.strip() else ""
    if status == 429:
        return StepFailure(
            f"{service} is rate limiting requests (429){detail}",
            kind="rate_limited",
            transient=True,
            retry_after=parse_retry_after(retry_after),
        )
    if status >= 500:
        return StepFailure(
            f"{service} failed with {status}{detail}",
            kind="upstream_error",
            transient=True,
            retry_after=parse_retry_after(retry_after),
        )
    if status in (401, 403):
        return StepFailure(
            f"{service} refused the credentials ({status}); check the credential"
            f" used by this step{detail}",
            kind="auth",
        )
    if status == 408:
        return StepFailure(f"{service} timed out the request (408)", kind="timeout", transient=True)
    return StepFailure(f"{service} answered {status}{detail}", kind="http_error")


def failure_for_transport(service: str, exc: httpx.TransportError) -> StepFailure:
    """Connection and read problems may pass; a bad URL or protocol will not."""
    if isinstance(exc, httpx.TimeoutException):
        return StepFailure(f"{service} did not answer in time", kind="timeout", transient=True)
    if isinstance(exc, httpx.LocalProtocolError):
        return StepFailure(f"invalid request to {service}: {exc}", kind="invalid_config")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return StepFailure(f"unsupported URL for {service}: {exc}", kind="invalid_config")
    if isinstance(exc, httpx.ProtocolError | httpx.NetworkError | httpx.ProxyError):
        return StepFailure(
            f"cannot reach {service}: {exc or type(exc).__name__}",
            kind="connection",
            transient=True,
        )
    return StepFailure(f"cannot reach {service}: {exc}", kind="connection", transient=True)
