"""Offers: a price for a quantity, made by one party of a conversation to the other."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tradetalk.kit.orm import Base, BigIntId, UTCDateTime

_OPEN = text("status = 'open'")


class Offer(Base):
    """An offer or counteroffer; its thread item is the message it points to."""

    __tablename__ = "offers"
    __table_args__ = (
        # At most one open offer per conversation, whatever the requests race to do.
        Index(
            "uq_offers_open_per_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_offers_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    # Copied from the conversation so the operator's webhook names the deal without a join.
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    maker_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    maker_role: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    quantity: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The offer this one counters, and the offer that took this one's place (counter or new).
    in_reply_to: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("offers.id"))
    superseded_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("offers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
