"""Who may read a conversation, and in what capacity: its participants always; a support user
only while a dispute on its transaction is open, or while an operator's grant names them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User
from tradetalk.accounts.repository import USER_COLUMNS, user_from_row
from tradetalk.conversations.models import Conversation, MemberRole
from tradetalk.disputes import repository as disputes_repo
from tradetalk.disputes.models import Dispute, SupportGrant
from tradetalk.errors import NotFound
from tradetalk.kit.orm import dialect_name, untracked_row
from tradetalk.kit.rawsql import RawSql
from tradetalk.notifications.models import EmailMode


class Capacity(enum.StrEnum):
    """Why a reader may see a conversation."""

    PARTICIPANT = "participant"
    SUPPORT = "support"


@dataclass(frozen=True, slots=True)
class Access:
    """A conversation together with the capacity its reader sees it in."""

    conversation: Conversation
    capacity: Capacity
    # What lets a support user in: the open dispute, or else the operator's grant.
    dispute: Dispute | None = None
    grant: SupportGrant | None = None
    # Every member and their role, when the statement that locked the conversation read them
    # too (`lock` on PostgreSQL); None otherwise.
    members: tuple[MemberRole, ...] | None = None

    @property
    def is_support(self) -> bool:
        """True when the reader is support, not a party."""
        return self.capacity is Capacity.SUPPORT

    @property
    def can_write(self) -> bool:
        """Parties always; support only in a dispute (a grant is for reading)."""
        return self.capacity is Capacity.PARTICIPANT or self.dispute is not None


# Every request about a conversation runs it: on the driver connection (kit/rawsql.py says
# why). The conversation, and whether the reader is one of its members.
_CONVERSATION_AND_MEMBERSHIP = """SELECT c.id, c.kind, c.transaction_id, c.direct_key,
 c.created_by, c.created_at, c.last_seq, c.last_message_at, p.user_id{members}
 FROM conversations c LEFT JOIN participants p
 ON p.conversation_id = c.id AND p.user_id = :user_id WHERE c.id = :conversation_id"""
_READABLE = RawSql(_CONVERSATION_AND_MEMBERSHIP.format(members=""), datetimes=[5, 7])
# The same, holding the conversation's row lock until commit (PostgreSQL; SQLite's writers
# exclude each other anyway): a send needs that lock for its position in the thread, and taking
# it here saves the statement that would take it afterwards. On PostgreSQL it also reads the
# members with their roles, which a send needs next (ordered alike, so the two arrays pair up).
# Read before the lock is granted, should the statement wait for it: a conversation's members
# and their roles never change once it is made. With them, each member's notification email
# mode, which says what a message queues for them (notifications/service.py), read here to save
# a send the round trip that would read it (a change to it racing the send may or may not
# apply to this message, as before).
_MEMBERS = (
    " ARRAY(SELECT user_id FROM participants WHERE conversation_id = c.id ORDER BY user_id),"
    " ARRAY(SELECT role FROM participants WHERE conversation_id = c.id ORDER BY user_id),"
    " ARRAY(SELECT COALESCE(s.email_mode, :default_email_mode) FROM participants m"
    " LEFT JOIN notification_settings s ON s.user_id = m.user_id"
    " WHERE m.conversation_id = c.id ORDER BY m.user_id)"
)
_READABLE_LOCKED = RawSql(
    postgresql=_CONVERSATION_AND_MEMBERSHIP.format(members="," + _MEMBERS) + " FOR UPDATE OF c",
    sqlite=_CONVERSATION_AND_MEMBERSHIP.format(members=""),
    datetimes=[5, 7],
)


# The caller's user row with the locked conversation, for the send (the direct path,
# conversations/api.py): the round trip that would read the user first is saved. The user is
# the one a verified token names; whether the token still holds is checked on the row
# (accounts.service.check_token_user) before anything else is done with it. No row when the
# user or the conversation is missing: the caller then takes the usual way, which tells
# the two apart.
_CALLER_AND_READABLE_LOCKED = RawSql(
    postgresql="SELECT "
    + ", ".join(f"u.{column}" for column in USER_COLUMNS)
    + ", c.id, c.kind, c.transaction_id, c.direct_key, c.created_by, c.created_at, c.last_seq,"
    " c.last_message_at, p.user_id,"
    + _MEMBERS
    + " FROM users u CROSS JOIN conversations c LEFT JOIN participants p"
    " ON p.conversation_id = c.id AND p.user_id = u.id"
    " WHERE u.id = :user_id AND c.id = :conversation_id FOR UPDATE OF c"
)


@dataclass(frozen=True, slots=True)
class LockedConversation:
    """A conversation row read (and locked) for a caller, before their access is judged."""

    conversation: Conversation
    is_member: bool
    members: tuple[MemberRole, ...] | None


async def get_readable(
    session: AsyncSession, conversation_id: int, user: User, now: datetime, *, lock: bool = False
) -> Access:
    """The conversation and the reader's capacity; NotFound (never 403) when they may not read it.

    One query for participants, the common case; support pays two more. With `lock`, the
    conversation's row is also locked until commit, as conversations_repo.lock does."""
    statement = _READABLE_LOCKED if lock else _READABLE
    row = await statement.row(
        session,
        user_id=user.id,
        conversation_id=conversation_id,
        default_email_mode=EmailMode.BATCHED.value,  # read by _READABLE_LOCKED alone
    )
    if row is None:
        raise NotFound("No such conversation.")
    return await access_to(session, _locked_conversation(row), user, now)


async def lock_with_caller(
    session: AsyncSession, conversation_id: int, user_id: str
) -> tuple[User, LockedConversation] | None:
    """PostgreSQL: the user `user_id` and the conversation, locked as `get_readable` with
    `lock` locks it, in one round trip; None when either is missing (or on SQLite), for the
    caller to authenticate and look the conversation up the usual way. Check the user's token
    (`check_token_user`) before `access_to`."""
    if dialect_name(session) != "postgresql":
        return None
    row = await _CALLER_AND_READABLE_LOCKED.row(
        session,
        user_id=user_id,
        conversation_id=conversation_id,
        default_email_mode=EmailMode.BATCHED.value,
    )
    if row is None:
        return None
    split = len(USER_COLUMNS)
    return user_from_row(row[:split]), _locked_conversation(row[split:])


def _locked_conversation(row: Sequence[Any]) -> LockedConversation:
    id_, kind, transaction_id, direct_key, created_by, created_at, last_seq, last_at, member = row[
        :9
    ]
    members = (
        tuple(MemberRole(*member) for member in zip(row[9], row[10], row[11], strict=True))
        if len(row) > 9
        else None
    )
    conversation = untracked_row(
        Conversation,
        {
            "id": id_,
            "kind": kind,
            "transaction_id": transaction_id,
            "direct_key": direct_key,
            "created_by": created_by,
            "created_at": created_at,
            "last_seq": last_seq,
            "last_message_at": last_at,
        },
    )
    return LockedConversation(conversation, member is not None, members)


async def access_to(
    session: AsyncSession, found: LockedConversation, user: User, now: datetime
) -> Access:
    """The capacity `user` reads a conversation in; NotFound when they may not read it."""
    conversation, members = found.conversation, found.members
    if found.is_member:
        return Access(conversation, Capacity.PARTICIPANT, members=members)
    if user.is_support:
        dispute = (
            await disputes_repo.open_dispute(session, conversation.transaction_id)
            if conversation.transaction_id
            else None
        )
        grant = await disputes_repo.active_grant(session, conversation.id, user.id, now)
        if dispute is not None or grant is not None:
            return Access(
                conversation, Capacity.SUPPORT, dispute=dispute, grant=grant, members=members
            )
    raise NotFound("No such conversation.")
