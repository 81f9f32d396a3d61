"""TOTP two-factor authentication (RFC 6238 via pyotp) and recovery codes.

The secret is sealed with the credentials vault key, bound to its user. A
code is accepted one step (30 s) either side of now, and only for a time step
later than the last accepted one, so a code is never accepted twice. Ten
recovery codes are made when 2FA is turned on, shown once, and stored as
SHA-256 (80 random bits each, so a fast hash is enough); each works once.
Every code check first takes an attempt from the account's lockout
(users/lockout.py).
"""

from __future__ import annotations

import hashlib
import io
import secrets
import uuid
from dataclasses import dataclass

import pyotp
import segno
from pyotp.utils import strings_equal
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from botskis.config import Settings
from botskis.core.security import PasswordHasher
from botskis.credentials.vault import Sealed, Vault
from botskis.database.base import utcnow
from botskis.mail.service import MailKind, queue_mail
from botskis.users.errors import (
    CodeRequired,
    InvalidCode,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorNotStarted,
    WrongPassword,
)
from botskis.users.lockout import CodeLockout
from botskis.users.models import RecoveryCode, TwoFactor, User

ISSUER = "Botskis"
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_GROUPS = 4
RECOVERY_GROUP_LENGTH = 4


@dataclass(frozen=True, slots=True)
class Setup:
    secret: str
    otpauth_uri: str
    qr_svg: str


def _aad(user_id: uuid.UUID) -> bytes:
    return b"totp:" + user_id.bytes


def _secret(vault: Vault, row: TwoFactor) -> str:
    sealed = Sealed(row.key_id, row.nonce, row.ciphertext)
    secret: str = vault.decrypt(sealed, aad=_aad(row.user_id))["secret"]
    return secret


async def reencrypt_secrets(session: AsyncSession, vault: Vault) -> int:
    """Re-encrypt every 2FA secret not under the current key (rotate-credentials), so
    an old key can be dropped without locking anyone out; how many were. An
    unreadable one raises UndecryptableSecret and the caller's transaction rolls back."""
    rows = list(
        await session.scalars(select(TwoFactor).where(TwoFactor.key_id != vault.current_key_id))
    )
    for row in rows:
        sealed = vault.encrypt({"secret": _secret(vault, row)}, aad=_aad(row.user_id))
        row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
    await session.flush()
    return len(rows)


def _qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, border=2, xmldecl=False)
    return buffer.getvalue().decode()


def _normalise_recovery(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(_normalise_recovery(code).encode()).hexdigest()


def new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LENGTH))
        for _ in range(RECOVERY_GROUPS)
    )
    return "-".join(groups)


async def begin_setup(session: AsyncSession, settings: Settings, user: User) -> Setup:
    """A new secret, waiting for its first code (POST .../enable)."""
    if user.two_factor_enabled:
        raise TwoFactorAlreadyEnabled()
    secret = pyotp.random_base32()
    sealed = Vault.from_settings(settings).encrypt({"secret": secret}, aad=_aad(user.id))
    row = await session.get(TwoFactor, user.id, with_for_update=True)
    if row is None:
        row = TwoFactor(user_id=user.id)
        session.add(row)
    row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
    row.enabled_at = None
    row.last_step = None
    await session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Setup(secret=secret, otpauth_uri=uri, qr_svg=_qr_svg(uri))


async def _accept_totp(session: AsyncSession, vault: Vault, row: TwoFactor, code: str) -> bool:
    totp = pyotp.TOTP(_secret(vault, row))
    try:
        step = totp.verify_and_get_timecode(code.strip(), valid_window=1)
    except pyotp.OTPVerificationError:
        return False
    # Only a step later than the last accepted one: a code cannot be replayed. Read
    # first, so a replay writes nothing (the UPDATE settles a race between two).
    if row.last_step is not None and step <= row.last_step:
        return False
    accepted = await session.execute(
        update(TwoFactor)
        .where(
            TwoFactor.user_id == row.user_id,
            or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step),
        )
        .values(last_step=step)
    )
    return getattr(accepted, "rowcount", 0) == 1


async def _accept_recovery(session: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
    digest = _hash_recovery(code)
    candidates = await session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    match = next((c for c in candidates if strings_equal(c.code_hash, digest)), None)
    if match is None:
        return False
    used = await session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return getattr(used, "rowcount", 0) == 1


async def check_code(
    session: AsyncSession,
    settings: Settings,
    lockout: CodeLockout,
    user_id: uuid.UUID,
    *,
    code: str | None = None,
    recovery_code: str | None = None,
    confirmed_only: bool = True,
) -> bool:
    """Whether the TOTP code (or the recovery code) is right, counted by the lockout
    (which raises CodesLocked while the account is locked). Callers write nothing
    before it: a wrong code is counted in a transaction of its own."""
    row = await session.get(TwoFactor, user_id, populate_existing=True)
    if row is None or (confirmed_only and row.enabled_at is None):
        return False
    attempt = await lockout.attempt(row)
    if recovery_code is not None:
        ok = await _accept_recovery(session, user_id, recovery_code)
    else:
        ok = code is not None and await _accept_totp(
            session, Vault.from_settings(settings), row, code
        )
    if ok:
        await lockout.succeeded(row)
    else:
        await lockout.failed(attempt)
    return ok


async def require_code(
    session: AsyncSession,
    settings: Settings,
    lockout: CodeLockout,
    user: User,
    code: str | None,
) -> None:
    """For a 2FA account, a right TOTP or recovery code (a recovery code has dashes
    or is longer than a TOTP code)."""
    if not user.two_factor_enabled:
        return
    if code is None:
        raise CodeRequired()
    is_totp = code.strip().isdigit()
    ok = await check_code(
        session,
        settings,
        lockout,
        user.id,
        code=code if is_totp else None,
        recovery_code=None if is_totp else code,
    )
    if not ok:
        raise InvalidCode()


async def _replace_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(RecoveryCode(user_id=user_id, code_hash=_hash_recovery(c)) for c in codes)
    return codes


async def enable(
    session: AsyncSession, settings: Settings, lockout: CodeLockout, user: User, code: str
) -> list[str]:
    """Turn 2FA on with the first code of the set-up secret; the recovery codes,
    which are never shown again."""
    if user.two_factor_enabled:
        raise TwoFactorAlreadyEnabled()
    row = await session.get(TwoFactor, user.id)
    if row is None:
        raise TwoFactorNotStarted()
    if not await check_code(session, settings, lockout, user.id, code=code, confirmed_only=False):
        raise InvalidCode()
    row.enabled_at = utcnow()
    user.two_factor_enabled = True
    codes = await _replace_recovery_codes(session, user.id)
    await _notify(session, settings, user, "turned on")
    await session.flush()
    return codes


async def disable(
    session: AsyncSession,
    hasher: PasswordHasher,
    settings: Settings,
    lockout: CodeLockout,
    user: User,
    *,
    password: str,
    code: str,
) -> None:
    if not user.two_factor_enabled:
        raise TwoFactorNotEnabled()
    if not await hasher.verify(password, user.hashed_password):
        raise WrongPassword()
    await require_code(session, settings, lockout, user, code)
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
    user.two_factor_enabled = False
    await _notify(session, settings, user, "turned off")
    await session.flush()


async def _notify(session: AsyncSession, settings: Settings, user: User, change: str) -> None:
    await queue_mail(
        session,
        settings,
        kind=MailKind.TWO_FACTOR_CHANGED,
        to=user.email,
        user_id=user.id,
        full_name=user.full_name,
        change=change,
    )
