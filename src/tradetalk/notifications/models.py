"""The transactional outbox: side effects written with the change that causes them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tradetalk.kit.orm import Base, BigIntId, UTCDateTime


class OutboxStatus(enum.StrEnum):
    """Where a side effect stands."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class OutboxItem(Base):
    """One side effect (an email, a webhook, a reminder...) to perform after commit."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "run_after"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    # Writing the same key twice stores one item: a retried request queues nothing twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EmailMode(enum.StrEnum):
    """How a user wants to hear about unread messages by email."""

    IMMEDIATELY = "immediately"  # at the next worker pass, no waiting
    BATCHED = "batched"  # after the notify delay, at most one email per delay window
    DAILY_DIGEST = "daily_digest"  # one email a day with whatever is still unread
    OFF = "off"


class NotificationSettings(Base):
    """A user's email preference and when they were last emailed (no row: the defaults)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    email_mode: Mapped[str] = mapped_column(String(16), default=EmailMode.BATCHED.value)
    last_email_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EmailCursor(Base):
    """The newest message of a conversation already put in an email to this user."""

    __tablename__ = "email_cursors"

    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    # Per-conversation seqs are handed out under the conversation's row lock, so they follow
    # commit order; a global message id would not, and a late commit could be skipped.
    last_emailed_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Notification(Base):
    """An item of a user's dashboard feed."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_feed", "user_id", "seen_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    # Unseen items of the same kind about the same conversation fold into one, counted here.
    count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeliveryStatus(enum.StrEnum):
    """Where a webhook delivery stands."""

    PENDING = "pending"  # failed so far, will be retried
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up; can be redelivered by hand


class WebhookDelivery(Base):
    """One webhook event sent (or being sent) to the operator, with its latest outcome."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # The Standard Webhooks `webhook-id`: the same on every retry and redelivery.
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    # The exact body posted; redeliveries post it again byte for byte.
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
