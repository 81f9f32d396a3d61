from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from botskis.database.base import Base, IdMixin, TimestampMixin


class Credential(IdMixin, TimestampMixin, Base):
    """A user's secret for one integration, AES-GCM encrypted under `key_id`."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_credentials_owner_id_name"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # A few characters of the secret's main field, safe to show back ("sk-…3fa9").
    hint: Mapped[str] = mapped_column(String(40))
