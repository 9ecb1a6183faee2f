"""The record's tables: the hash-chained ledger and the earlier versions of messages."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tradetalk.kit.orm import Base, BigIntId, UTCDateTime


class EntryKind(enum.StrEnum):
    """What an entry of the record says happened (other domains add their own kinds)."""

    MESSAGE_POSTED = "message.posted"
    MESSAGE_EDITED = "message.edited"
    MESSAGE_WITHDRAWN = "message.withdrawn"
    DISPUTE_REQUESTED = "dispute.requested"
    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_CLOSED = "dispute.closed"


class RecordEntry(Base):
    """One entry of a conversation's append-only ledger, chained to the one before it.

    Rows are only ever inserted (the database refuses updates); they go only when the operator's
    retention purge removes the whole conversation."""

    __tablename__ = "record_entries"

    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40))
    # Canonical JSON (see record.chain), stored exactly as it was hashed.
    payload: Mapped[str] = mapped_column(Text)
    salt: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VersionReason(enum.StrEnum):
    """Why a message's text was replaced."""

    EDITED = "edited"
    WITHDRAWN = "withdrawn"


class MessageVersion(Base):
    """A text a message showed before an edit or a withdrawal replaced it."""

    __tablename__ = "message_versions"
    __table_args__ = (UniqueConstraint("message_id", "version"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE")
    )
    # 0 is the text as first sent, then one more per edit.
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    # When this text started to show (the send or the edit that wrote it) and what replaced it.
    shown_from: Mapped[datetime] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replaced_because: Mapped[str] = mapped_column(String(16))
