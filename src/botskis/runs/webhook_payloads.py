"""Reading a webhook delivery's body into a run's input.

JSON, form-encoded and multipart bodies are accepted: inbound-email parse
services (SendGrid, Mailgun) post forms. Form fields become the input's keys, a
repeated field a list; uploaded files become `attachments`, metadata only
(name, type, size, sha256), since a run's input is stored and shown and the
files' bytes are not ours to keep.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.types import Message

from botskis.core.errors import AppError

MAX_WEBHOOK_BYTES = 256 * 1024
MAX_WEBHOOK_FILES = 20
MAX_WEBHOOK_FIELDS = 500
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
ACCEPTED = f"{JSON}, {FORM} or {MULTIPART}"


class PayloadTooLarge(AppError):
    status = 413

    def __init__(self) -> None:
        super().__init__(f"The webhook body is larger than {MAX_WEBHOOK_BYTES} bytes")


class InvalidPayload(AppError):
    status = 400


class UnsupportedPayloadType(AppError):
    status = 415

    def __init__(self, media_type: str) -> None:
        super().__init__(f"A webhook body must be {ACCEPTED}, not {media_type}")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    # No Content-Type at all is read as JSON, as senders that post JSON often omit it.
    return media_type in ("", JSON) or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge()
    return bytes(body)


async def read_webhook_payload(request: Request) -> dict[str, Any]:
    """The delivery as a run's input; an empty body is `{}`, a JSON value that
    is not an object is `{"body": value}`."""
    media_type = _media_type(request)
    if not (_is_json(media_type) or media_type in (FORM, MULTIPART)):
        raise UnsupportedPayloadType(media_type)
    body = await _read_body(request)
    if not body.strip():
        return {}
    if _is_json(media_type):
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidPayload(f"The webhook body must be JSON: {str(exc)[:100]}") from exc
        return payload if isinstance(payload, dict) else {"body": payload}
    return await _read_form(request, body)


async def _read_form(request: Request, body: bytes) -> dict[str, Any]:
    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    form_request = Request(request.scope, replay)
    try:
        form = await form_request.form(
            max_files=MAX_WEBHOOK_FILES,
            max_fields=MAX_WEBHOOK_FIELDS,
            max_part_size=MAX_WEBHOOK_BYTES,
        )
    except (HTTPException, MultiPartException) as exc:
        reason = exc.detail if isinstance(exc, HTTPException) else exc.message
        raise InvalidPayload(f"The webhook form is not valid: {reason}") from exc
    try:
        return await _form_input(form)
    finally:
        await form.close()


async def _form_input(form: FormData) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    attachments: list[dict[str, Any]] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            attachments.append(await _attachment(name, value))
            continue
        if "\x00" in name or "\x00" in value:
            raise InvalidPayload("NUL characters are not allowed in text", status=422)
        if name not in fields:
            fields[name] = value
        elif isinstance(fields[name], list):
            fields[name].append(value)
        else:
            fields[name] = [fields[name], value]
    if attachments:
        # Replaces a text field of that name (SendGrid's `attachments` is their count).
        fields["attachments"] = attachments
    return fields


async def _attachment(field: str, upload: UploadFile) -> dict[str, Any]:
    content = await upload.read()
    return {
        "field": field,
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
