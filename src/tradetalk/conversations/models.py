"""Conversations, participants and messages."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tradetalk.kit.orm import Base, BigIntId, UTCDateTime


class ConversationKind(enum.StrEnum):
    """What a conversation is about."""

    TRANSACTION = "transaction"
    DIRECT = "direct"


class ParticipantRole(enum.StrEnum):
    """The part a user plays in a conversation."""

    BUYER = "buyer"
    SELLER = "seller"


class SenderRole(enum.StrEnum):
    """Who wrote an item, as the other side sees it."""

    BUYER = "buyer"
    SELLER = "seller"
    SUPPORT = "support"
    SYSTEM = "system"


class MessageKind(enum.StrEnum):
    """The kinds of item a thread holds."""

    TEXT = "text"
    OFFER = "offer"
    SHIPPING_UPDATE = "shipping_update"
    SYSTEM = "system"


class Conversation(Base):
    """A thread between a buyer and a seller, about one transaction or started directly."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_created_by_created_at", "created_by", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    transaction_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("transactions.id"), unique=True
    )
    # The two user ids of a direct conversation, sorted and joined: one conversation per pair.
    direct_key: Mapped[str | None] = mapped_column(String(140), unique=True)
    created_by: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The seq of the newest message; bumping it under the row lock orders the thread.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Membership(Protocol):
    """A member as the send path needs one: a `Participant`, or a plain row of the two."""

    @property
    def user_id(self) -> str: ...

    @property
    def role(self) -> str: ...


class PreviousSpeaker(NamedTuple):
    """The role (buyer or seller) of the newest item of either before a new one, None when
    there is none, as read under the conversation's lock. (A type of its own, so that "read,
    and nobody" and "not read" cannot be confused.)"""

    role: str | None


class MemberRole(NamedTuple):
    """Who is in a conversation, and as what: all a send needs to know of its members."""

    user_id: str
    role: str
    # Their notification email mode (the default when they never chose one), where the
    # statement that read the members read it too (disputes/access.py); None otherwise.
    email_mode: str | None = None


class Participant(Base):
    """A user's membership of a conversation, with their read marker."""

    __tablename__ = "participants"
    __table_args__ = (
        # The inbox: one user's conversations by latest activity, newest first.
        Index("ix_participants_inbox", "user_id", "last_activity_at", "conversation_id"),
    )

    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    last_read_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_read_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Null until the conversation has its first message, so empty threads stay out of inboxes.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Message(Base):
    """One item of a thread: text, offer, shipping update or system note."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "sender_id", "client_message_id"),
        # The shield's context: a sender's latest messages in a conversation.
        Index("ix_messages_sender_recent", "conversation_id", "sender_id", "seq"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    sender_id: Mapped[str | None] = mapped_column(String(64), ForeignKey("users.id"))
    sender_role: Mapped[str] = mapped_column(String(16))
    # What the participants see (and what search indexes).
    body: Mapped[str] = mapped_column(Text)
    client_message_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Edits and withdrawals keep the earlier text in message_versions (see tradetalk.record).
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    edit_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def withdrawn(self) -> bool:
        """True once the sender withdrew it: participants see a tombstone."""
        return self.withdrawn_at is not None


class NewItem(NamedTuple):
    """A thread item to store: what its author gives it (the repository's `append_message` adds
    the other columns)."""

    conversation_id: int
    kind: str
    sender_id: str | None
    sender_role: str
    body: str
    client_message_id: str | None
    created_at: datetime


class MessageRow(NamedTuple):
    """A stored thread item read as a plain row, for pages that only show items (the inbox's
    last messages, a page of a thread): the columns of `Message`, without the cost of an ORM
    entity (about as much CPU as the rest of the page together, for fifty of them)."""

    id: int
    conversation_id: int
    seq: int
    kind: str
    sender_id: str | None
    sender_role: str
    body: str
    client_message_id: str | None
    created_at: datetime
    edited_at: datetime | None
    edit_count: int
    withdrawn_at: datetime | None

    @property
    def withdrawn(self) -> bool:
        """True once the sender withdrew it: participants see a tombstone."""
        return self.withdrawn_at is not None


# A thread item to show: an entity, or the plain row of a page.
ShownMessage = Message | MessageRow
