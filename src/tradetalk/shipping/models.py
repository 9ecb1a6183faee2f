"""Shipping updates: a carrier and a validated tracking number, posted by the seller."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tradetalk.kit.orm import Base, BigIntId, UTCDateTime


class ShippingUpdate(Base):
    """A tracking number in a thread; its thread item is the message it points to."""

    __tablename__ = "shipping_updates"
    __table_args__ = (
        # Posting the same number again in a conversation gives back the first update.
        UniqueConstraint("conversation_id", "tracking_number"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    posted_by: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    carrier: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(40))
    tracking_url: Mapped[str | None] = mapped_column(String(300))
    # False for the few formats that carry no check digit (format only).
    check_digit_verified: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
