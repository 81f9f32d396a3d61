"""The credentials vault: secrets are validated against their kind, encrypted
before they touch the database, and only decrypted for the runtime."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.core.errors import ValidationFailed
from botskis.core.pagination import PageParams, fetch_page
from botskis.credentials.errors import (
    CredentialNameTaken,
    CredentialNotFound,
    CredentialUndecryptable,
)
from botskis.credentials.kinds import CREDENTIAL_KINDS
from botskis.credentials.models import Credential
from botskis.credentials.vault import Sealed, UndecryptableSecret, Vault

HINT_MIN_LENGTH = 12


def secret_errors(kind: str, secret: dict[str, Any]) -> list[dict[str, str]]:
    """Every problem with a secret for a kind: unknown kind, missing, empty or extra fields."""
    spec = CREDENTIAL_KINDS.get(kind)
    if spec is None:
        known = ", ".join(sorted(CREDENTIAL_KINDS))
        return [{"field": "kind", "message": f"unknown credential kind '{kind}'; known: {known}"}]
    errors = []
    for name in spec.required:
        value = secret.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append({"field": f"secret.{name}", "message": "field required"})
    for name in secret:
        if name not in spec.fields:
            errors.append({"field": f"secret.{name}", "message": f"not a field of '{kind}'"})
    return errors


def mask(kind: str, secret: dict[str, Any]) -> str:
    """A hint that tells two credentials apart without revealing them."""
    field = CREDENTIAL_KINDS[kind].hint_field
    value = str(secret.get(field, "")) if field else ""
    if len(value) < HINT_MIN_LENGTH:
        return "****"
    return "****" + value[-4:]


def _aad(owner_id: uuid.UUID, kind: str) -> bytes:
    # Binds a ciphertext to its owner and kind: a row copied elsewhere will not decrypt.
    # Normalised, because a process that has not imported every model may load the
    # foreign key as a bare hex string.
    return f"{uuid.UUID(str(owner_id))}:{kind}".encode()


def _seal(vault: Vault, credential: Credential, secret: dict[str, Any]) -> None:
    sealed = vault.encrypt(secret, aad=_aad(credential.owner_id, credential.kind))
    credential.key_id = sealed.key_id
    credential.nonce = sealed.nonce
    credential.ciphertext = sealed.ciphertext
    credential.hint = mask(credential.kind, secret)


def _check_secret(kind: str, secret: dict[str, Any]) -> None:
    errors = secret_errors(kind, secret)
    if errors:
        raise ValidationFailed("The credential is not valid", errors)


async def _ensure_name_free(
    session: AsyncSession, owner_id: uuid.UUID, name: str, *, except_id: uuid.UUID | None = None
) -> None:
    query = select(Credential.id).where(Credential.owner_id == owner_id, Credential.name == name)
    if except_id is not None:
        query = query.where(Credential.id != except_id)
    if await session.scalar(query) is not None:
        raise CredentialNameTaken(name)


async def create_credential(
    session: AsyncSession,
    vault: Vault,
    owner_id: uuid.UUID,
    *,
    kind: str,
    name: str,
    secret: dict[str, Any],
) -> Credential:
    _check_secret(kind, secret)
    await _ensure_name_free(session, owner_id, name)
    credential = Credential(owner_id=owner_id, kind=kind, name=name)
    _seal(vault, credential, secret)
    session.add(credential)
    await session.flush()
    return credential


async def get_owned_credential(
    session: AsyncSession, owner_id: uuid.UUID, credential_id: uuid.UUID
) -> Credential:
    credential = await session.scalar(
        select(Credential).where(Credential.id == credential_id, Credential.owner_id == owner_id)
    )
    if credential is None:
        raise CredentialNotFound()
    return credential


async def list_credentials(
    session: AsyncSession, owner_id: uuid.UUID, *, kind: str | None, page: PageParams
) -> tuple[list[Credential], int]:
    where = [Credential.owner_id == owner_id]
    if kind is not None:
        where.append(Credential.kind == kind)
    return await fetch_page(
        session, select(Credential).where(*where), (Credential.created_at, Credential.id), page
    )


async def update_credential(
    session: AsyncSession,
    vault: Vault,
    owner_id: uuid.UUID,
    credential_id: uuid.UUID,
    *,
    name: str | None,
    secret: dict[str, Any] | None,
) -> Credential:
    credential = await get_owned_credential(session, owner_id, credential_id)
    if secret is not None:
        _check_secret(credential.kind, secret)
    if name is not None and name != credential.name:
        await _ensure_name_free(session, owner_id, name, except_id=credential.id)
        credential.name = name
    if secret is not None:
        _seal(vault, credential, secret)
    await session.flush()
    return credential


async def delete_credential(
    session: AsyncSession, owner_id: uuid.UUID, credential_id: uuid.UUID
) -> None:
    credential = await get_owned_credential(session, owner_id, credential_id)
    await session.delete(credential)
    await session.flush()


def reveal(vault: Vault, credential: Credential) -> dict[str, Any]:
    sealed = Sealed(credential.key_id, credential.nonce, credential.ciphertext)
    try:
        return vault.decrypt(sealed, aad=_aad(credential.owner_id, credential.kind))
    except UndecryptableSecret as exc:
        raise CredentialUndecryptable(credential.name, exc.key_id, exc.reason) from exc


async def get_secret(
    session: AsyncSession, owner_id: uuid.UUID, kind: str, *, settings: Settings
) -> dict[str, Any] | None:
    """The decrypted secret of the owner's most recently updated credential of a kind.

    Raises CredentialUndecryptable (naming the key id) when it cannot be read.
    """
    credential = await session.scalar(
        select(Credential)
        .where(Credential.owner_id == owner_id, Credential.kind == kind)
        .order_by(Credential.updated_at.desc(), Credential.id)
        .limit(1)
    )
    if credential is None:
        return None
    return reveal(Vault.from_settings(settings), credential)


async def reencrypt_credentials(session: AsyncSession, vault: Vault) -> int:
    """Re-encrypt every credential not under the current key; how many were.

    One unreadable secret aborts the whole batch, naming its key id, so an
    operator never ends up with some secrets moved and others lost.
    """
    rows = list(
        await session.scalars(select(Credential).where(Credential.key_id != vault.current_key_id))
    )
    for credential in rows:
        secret = reveal(vault, credential)
        sealed = vault.encrypt(secret, aad=_aad(credential.owner_id, credential.kind))
        # updated_at is kept: it says which credential of a kind the user set last.
        await session.execute(
            update(Credential)
            .where(Credential.id == credential.id)
            .values(
                key_id=sealed.key_id,
                nonce=sealed.nonce,
                ciphertext=sealed.ciphertext,
                updated_at=Credential.updated_at,
            )
        )
    return len(rows)


async def stored_kinds(session: AsyncSession, owner_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(
        select(Credential.kind).where(Credential.owner_id == owner_id).distinct()
    )
    return set(rows)
