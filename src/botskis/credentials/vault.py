"""AES-GCM encryption of credential secrets under rotating keys.

Keys are `kid:base64key` (32 bytes decoded). The current key (CREDENTIALS_KEY)
encrypts; every configured key (current and CREDENTIALS_OLD_KEYS) decrypts, so
a key is rotated by moving it to the old list and setting a new current one.
In development, when CREDENTIALS_KEY is unset, a key is derived from SECRET_KEY
(changing SECRET_KEY then makes stored secrets unreadable); production refuses
to start without CREDENTIALS_KEY.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from botskis.config import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_MAX = 32


class KeyConfigError(ValueError):
    """A configured key is malformed; raised while settings are validated."""


class UndecryptableSecret(Exception):
    """A stored secret does not decrypt: its key is missing or wrong, or the data changed."""

    def __init__(self, key_id: str, reason: str) -> None:
        super().__init__(f"secret encrypted with key '{key_id}' {reason}")
        self.key_id = key_id
        self.reason = reason


def parse_key(value: str) -> tuple[str, bytes]:
    """`kid:base64` → (kid, 32-byte key)."""
    kid, sep, encoded = value.strip().partition(":")
    if not sep or not kid or len(kid) > KEY_ID_MAX:
        raise KeyConfigError(f"key must look like 'kid:base64key' with a kid of 1-{KEY_ID_MAX}")
    try:
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigError(f"key '{kid}' is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise KeyConfigError(f"key '{kid}' must decode to {KEY_BYTES} bytes, got {len(key)}")
    return kid, key


def derive_development_key(secret_key: str) -> tuple[str, bytes]:
    key = HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"botskis credentials v1"
    ).derive(secret_key.encode())
    return "dev-" + hashlib.sha256(key).hexdigest()[:8], key


@dataclass(frozen=True, slots=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


class Vault:
    def __init__(self, current: tuple[str, bytes], old: list[tuple[str, bytes]]) -> None:
        self.current_key_id = current[0]
        self._keys = dict(old)
        self._keys[current[0]] = current[1]

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        derived = derive_development_key(settings.secret_key)
        old = [parse_key(v) for v in settings.credentials_old_keys]
        if not settings.credentials_key:
            return cls(derived, old)
        # The derived key stays readable so secrets stored before CREDENTIALS_KEY was
        # set can still be read and re-encrypted (`botskis rotate-credentials`).
        return cls(parse_key(settings.credentials_key), [derived, *old])

    def encrypt(self, secret: dict[str, Any], *, aad: bytes) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(secret, separators=(",", ":")).encode()
        key = self._keys[self.current_key_id]
        return Sealed(self.current_key_id, nonce, AESGCM(key).encrypt(nonce, plaintext, aad))

    def decrypt(self, sealed: Sealed, *, aad: bytes) -> dict[str, Any]:
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise UndecryptableSecret(
                sealed.key_id,
                "cannot be read: that key is not configured in CREDENTIALS_KEY "
                "or CREDENTIALS_OLD_KEYS",
            )
        try:
            plaintext = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, aad)
        except InvalidTag as exc:
            raise UndecryptableSecret(
                sealed.key_id, "does not decrypt: the key differs or the stored data was altered"
            ) from exc
        value: dict[str, Any] = json.loads(plaintext)
        return value
