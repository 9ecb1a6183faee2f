"""Uploaded files: owned by their uploader until a message claims them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tradetalk.kit.orm import Base, UTCDateTime


class Attachment(Base):
    """A checked, sanitised file in storage; visible to its uploader, then to the conversation."""

    __tablename__ = "attachments"
    __table_args__ = (
        # Serves both "the attachments of these messages" and "unclaimed uploads older than X"
        # (message_id IS NULL AND created_at < X).
        Index("ix_attachments_message_id_created_at", "message_id", "created_at"),
    )

    # Random 128-bit, URL-safe: ids end up in URLs and <img> tags, so they must not be guessable.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    uploader_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    # Set together when a message claims the upload; never changed afterwards.
    message_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE")
    )
    conversation_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # The sanitised display name; storage keys are random and never derived from it.
    filename: Mapped[str] = mapped_column(String(255))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(64))
    thumbnail_key: Mapped[str | None] = mapped_column(String(80))
    thumbnail_size: Mapped[int | None] = mapped_column(Integer)
    # done | skipped (no OCR engine) | not_applicable (not an image)
    text_scan: Mapped[str] = mapped_column(String(16))
    # JSON list of the shield's findings when the policy flags rather than blocks.
    flagged_findings: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
