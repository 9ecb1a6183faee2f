"""The moderation queue, strikes, restrictions, their audit trail, and user blocks."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tradetalk.kit.orm import Base, BigIntId, UTCDateTime


class ItemKind(enum.StrEnum):
    """Why something is in the moderation queue."""

    BLOCKED = "blocked"
    MASKED = "masked"
    FLAGGED = "flagged"
    REPORTED_MESSAGE = "reported_message"
    REPORTED_USER = "reported_user"


class ItemStatus(enum.StrEnum):
    """Where a review stands."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class RestrictionKind(enum.StrEnum):
    """A pause ends by itself; a restriction lasts until support lifts it."""

    PAUSE = "pause"
    RESTRICTED = "restricted"


class ModerationItem(Base):
    """Something for a moderator to look at, with the original text and the findings."""

    __tablename__ = "moderation_items"
    __table_args__ = (
        Index("ix_moderation_items_queue", "status", "id"),
        Index("ix_moderation_items_subject", "subject_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    conversation_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE")
    )
    # Moderators only: what the user actually wrote (the recipient may have seen it masked).
    original_text: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[str] = mapped_column(Text, default="[]")
    client_message_id: Mapped[str | None] = mapped_column(String(100))
    reporter_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))


class Strike(Base):
    """One blocked or confirmed attempt to take contact off the platform."""

    __tablename__ = "strikes"
    __table_args__ = (Index("ix_strikes_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    item_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("moderation_items.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dismissed_by: Mapped[str | None] = mapped_column(String(64))


class Restriction(Base):
    """A pause on sending, or a restriction of the user's messaging privileges."""

    __tablename__ = "restrictions"
    __table_args__ = (Index("ix_restrictions_user", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(64))


class ModerationAction(Base):
    """The audit trail of moderation: who did what to whom, and when."""

    __tablename__ = "moderation_actions"
    __table_args__ = (Index("ix_moderation_actions_subject", "subject_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    item_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserBlock(Base):
    """`blocker` does not want direct messages from `blocked`."""

    __tablename__ = "user_blocks"

    blocker_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"), primary_key=True)
    blocked_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
