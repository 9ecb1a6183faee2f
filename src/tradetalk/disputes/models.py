"""Disputes, support grants and the audit log of support work."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tradetalk.kit.orm import Base, BigIntId, UTCDateTime


class DisputeStatus(enum.StrEnum):
    """Whether support may still work on a dispute."""

    OPEN = "open"
    CLOSED = "closed"


class Dispute(Base):
    """A dispute the operator opened on a transaction; support reads its conversation while open."""

    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_transaction_id_opened_at", "transaction_id", "opened_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(String(64), ForeignKey("transactions.id"))
    # The transaction id while open, null once closed: the unique constraint allows one open
    # dispute per transaction on every database (nulls never collide), even under races.
    open_for: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SupportGrant(Base):
    """The operator's permission for one support user to read one conversation for a while."""

    __tablename__ = "support_grants"
    __table_args__ = (
        Index("ix_support_grants_lookup", "conversation_id", "user_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ActorType(enum.StrEnum):
    """Who did something the audit log records."""

    SUPPORT = "support"
    OPERATOR = "operator"


class AuditEntry(Base):
    """One support read or action, or one operator action on the record.

    No foreign keys: the log outlives the conversations and users it names."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    # A small JSON object: what exactly was read or done.
    detail: Mapped[str] = mapped_column(Text)
