"""Every query of conversations and messages, including who may see what."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.conversations.models import (
    Conversation,
    ConversationKind,
    MemberRole,
    Message,
    MessageKind,
    MessageRow,
    NewItem,
    Participant,
    PreviousSpeaker,
    SenderRole,
)
from tradetalk.errors import NotFound
from tradetalk.kit.orm import dialect_name, table_of, untracked_row
from tradetalk.kit.rawsql import RawSql
from tradetalk.kit.sqlite_inline import off_the_loop
from tradetalk.marketplace.models import Transaction
from tradetalk.record.repository import ChainEnd, Head


class Member(NamedTuple):
    """A participant as a conversation's pages show them, with their read state."""

    user_id: str
    display_name: str
    role: str
    last_read_seq: int
    last_read_message_id: int | None
    last_activity_at: datetime | None


class ReadState(NamedTuple):
    """Where the viewer stands in a conversation."""

    last_read_seq: int
    last_read_message_id: int | None
    last_activity_at: datetime | None


class ConversationHead(NamedTuple):
    """The columns of a conversation that its pages show."""

    id: int
    kind: str
    transaction_id: str | None
    created_at: datetime
    last_seq: int


class TransactionHead(NamedTuple):
    """The columns of a transaction that its conversation's pages show."""

    id: str
    title: str
    status: str
    amount_minor: int | None
    currency: str | None


_TRANSACTION_HEAD = (
    Transaction.id,
    Transaction.title,
    Transaction.status,
    Transaction.amount_minor,
    Transaction.currency,
)


@dataclass(slots=True)
class ConversationView:
    """A conversation with what its viewer needs to render it.

    Plain rows, not ORM objects: an inbox page shows fifty conversations with their
    transactions and two members each, and loading those as tracked entities took about a
    third of the page's CPU.
    """

    conversation: ConversationHead
    me: ReadState
    members: list[Member]
    transaction: TransactionHead | None
    unread_count: int
    last_message: MessageRow | None


async def get_visible(session: AsyncSession, conversation_id: int, user_id: str) -> Conversation:
    """The conversation if `user_id` takes part in it; NotFound otherwise (never 403)."""
    stmt = (
        select(Conversation)
        .join(Participant, Participant.conversation_id == Conversation.id)
        .where(Conversation.id == conversation_id, Participant.user_id == user_id)
    )
    conversation = (await session.scalars(stmt)).one_or_none()
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


async def for_transaction(session: AsyncSession, transaction_id: str) -> Conversation | None:
    """The conversation of a transaction, if it has been opened."""
    stmt = select(Conversation).where(Conversation.transaction_id == transaction_id)
    return (await session.scalars(stmt)).one_or_none()


async def direct_between(session: AsyncSession, direct_key: str) -> Conversation | None:
    """The direct conversation of a pair of users, if any."""
    stmt = select(Conversation).where(Conversation.direct_key == direct_key)
    return (await session.scalars(stmt)).one_or_none()


async def direct_started_since(
    session: AsyncSession, user_id: str, since: datetime
) -> list[datetime]:
    """When this user started direct conversations since `since`, oldest first."""
    stmt = (
        select(Conversation.created_at)
        .where(
            Conversation.created_by == user_id,
            Conversation.kind == ConversationKind.DIRECT.value,
            Conversation.created_at >= since,
        )
        .order_by(Conversation.created_at)
    )
    return list(await session.scalars(stmt))


_PARTICIPANTS = select(Participant).where(
    Participant.conversation_id == bindparam("b_conversation_id")
)


async def participants(session: AsyncSession, conversation_id: int) -> list[Participant]:
    """The members of a conversation."""
    return list(await session.scalars(_PARTICIPANTS, {"b_conversation_id": conversation_id}))


async def participant_ids(session: AsyncSession, conversation_id: int) -> list[str]:
    """The user ids of a conversation's members."""
    stmt = select(Participant.user_id).where(Participant.conversation_id == conversation_id)
    return list(await session.scalars(stmt))


async def lock(session: AsyncSession, conversation_id: int) -> bool:
    """Hold the conversation's row lock until commit; False when there was nothing to take
    because the transaction already excludes other writers (SQLite's BEGIN IMMEDIATE)."""
    if dialect_name(session) == "sqlite":
        return False
    await session.execute(
        select(Conversation.id).where(Conversation.id == conversation_id).with_for_update()
    )
    return True


_messages = table_of(Message)

# The statements every send runs: on the driver connection (kit/rawsql.py says why).
_NEXT_SEQ = RawSql(
    "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = :now"
    " WHERE id = :conversation_id RETURNING last_seq"
)
_INSERT_MESSAGE = RawSql(
    "INSERT INTO messages (conversation_id, seq, kind, sender_id, sender_role, body,"
    " client_message_id, created_at, edited_at, edit_count, withdrawn_at)"
    " VALUES (:conversation_id, :seq, :kind, :sender_id, :sender_role, :body,"
    " :client_message_id, :created_at, :edited_at, :edit_count, :withdrawn_at) RETURNING id"
)
# The sender has read everything up to their own message; everyone's inbox moves it up.
_RECORD_ACTIVITY = RawSql(
    "UPDATE participants SET last_activity_at = :created_at,"
    " last_read_seq = CASE WHEN user_id = :reader_id THEN :seq ELSE last_read_seq END,"
    " last_read_message_id ="
    " CASE WHEN user_id = :reader_id THEN :message_id ELSE last_read_message_id END"
    " WHERE conversation_id = :conversation_id"
)
# The three above in one round trip, for PostgreSQL (SQLite's CTEs cannot write): each
# data-modifying part of a WITH runs exactly once and passes on what it RETURNs, the position
# comes from the conversation's row as updated under its lock (as with _NEXT_SEQ alone), and
# the participants' rows are updated in their latest versions. A round trip saved is the
# driver's, the kernel's and the server's work for one statement.
_APPEND_MESSAGE_TEXT = (
    "WITH position AS ("
    "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = :now"
    " WHERE id = :conversation_id RETURNING last_seq"
    "), stored AS ("
    "INSERT INTO messages (conversation_id, seq, kind, sender_id, sender_role, body,"
    " client_message_id, created_at, edited_at, edit_count, withdrawn_at)"
    " VALUES (:conversation_id, (SELECT last_seq FROM position), :kind, :sender_id,"
    " :sender_role, :body, :client_message_id, :created_at, :edited_at, :edit_count,"
    " :withdrawn_at) RETURNING id, seq"
    "), activity AS ("
    "UPDATE participants SET last_activity_at = :created_at,"
    " last_read_seq = CASE WHEN user_id = :reader_id THEN stored.seq ELSE last_read_seq END,"
    " last_read_message_id ="
    " CASE WHEN user_id = :reader_id THEN stored.id ELSE last_read_message_id END"
    " FROM stored WHERE conversation_id = :conversation_id"
    ") SELECT id, seq FROM stored"
)
_APPEND_MESSAGE = RawSql(postgresql=_APPEND_MESSAGE_TEXT)
# The same, for a caller that holds the conversation's lock already, with the head of the
# conversation's ledger (which the caller appends the new message to next). The statement sees
# every entry committed before the lock was granted, as a statement of its own would: the lock
# was taken by an earlier statement. (Taken by this one, after a wait, it would not: a
# statement's snapshot is as old as the statement.)
# Also read: for a buyer's item, who spoke last before it (the role of the newest buyer or
# seller item before its position; notifications/service.py starts the reply reminders from
# it), which would be a round trip of its own for every message a buyer sends.
_APPEND_MESSAGE_WITH_CHAIN_END = RawSql(
    postgresql=_APPEND_MESSAGE_TEXT.replace(
        ") SELECT id, seq FROM stored",
        "), head AS (SELECT position, hash FROM record_entries"
        " WHERE conversation_id = :conversation_id ORDER BY position DESC LIMIT 1)"
        " SELECT stored.id, stored.seq, head.position, head.hash,"
        " CASE WHEN :sender_role = 'buyer' THEN (SELECT earlier.sender_role"
        " FROM messages earlier WHERE earlier.conversation_id = :conversation_id"
        " AND earlier.seq < stored.seq AND earlier.sender_role IN ('buyer', 'seller')"
        " AND earlier.kind <> 'system' ORDER BY earlier.seq DESC LIMIT 1) END"
        " FROM stored LEFT JOIN head ON true",
    )
)
_CLIENT_ID_TAKEN = RawSql(
    "SELECT id FROM messages WHERE conversation_id = :conversation_id"
    " AND sender_id = :sender_id AND client_message_id = :client_message_id"
)
_MEMBER_ROLES = RawSql(
    "SELECT user_id, role FROM participants WHERE conversation_id = :conversation_id"
)


async def member_roles(session: AsyncSession, conversation_id: int) -> list[MemberRole]:
    """The members of a conversation with their roles (plain rows, for the send path)."""
    rows = await _MEMBER_ROLES.rows(session, conversation_id=conversation_id)
    return [MemberRole(user_id, role) for user_id, role in rows]


# What a new item's other columns start as (`id` and `seq` come from the append).
_NEW_ITEM_DEFAULTS: dict[str, Any] = {"edited_at": None, "edit_count": 0, "withdrawn_at": None}
if {*NewItem._fields, *_NEW_ITEM_DEFAULTS, "id", "seq"} != set(_messages.columns.keys()):
    raise RuntimeError("NewItem and _NEW_ITEM_DEFAULTS must name every column of messages")


async def append_message(session: AsyncSession, item: NewItem) -> Message:
    """Give a new thread item the next position, store it, and move the conversation up in
    every member's inbox (its sender has read it all; a system item reads nothing for anyone).

    What comes back is the stored row, read-only (`kit/orm.untracked_row`): the session does
    not track it. Takes the conversation's row lock (if the caller does not hold it yet), so
    items are numbered and recorded in one order."""
    stored, _ = await _append(session, item, chain_end=False)
    return stored


class ReadWithAppend(NamedTuple):
    """What the append of a new item read under the conversation's lock (PostgreSQL)."""

    chain_end: ChainEnd
    # Read for a buyer's item only (None for anyone else's).
    previous_speaker: PreviousSpeaker | None


async def append_message_locked(
    session: AsyncSession, item: NewItem
) -> tuple[Message, ReadWithAppend | None]:
    """`append_message` for a caller holding the conversation's lock already, with the head
    of the conversation's ledger and, for a buyer's item, the previous speaker read in the same
    statement (PostgreSQL; None elsewhere)."""
    return await _append(session, item, chain_end=True)


async def _append(
    session: AsyncSession, item: NewItem, *, chain_end: bool
) -> tuple[Message, ReadWithAppend | None]:
    # The item's values as they are (no entity made and read back column by column first).
    values = {**item._asdict(), **_NEW_ITEM_DEFAULTS}
    # No participant has an empty id: a system item reads nothing for anyone.
    reader_id = item.sender_id if item.sender_id is not None else ""
    read: ReadWithAppend | None = None
    if dialect_name(session) == "postgresql":
        statement = _APPEND_MESSAGE_WITH_CHAIN_END if chain_end else _APPEND_MESSAGE
        row = await statement.row(session, **values, now=item.created_at, reader_id=reader_id)
        if row is None:
            raise LookupError(f"conversation {item.conversation_id} does not exist")
        message_id, seq = row[0], row[1]
        if chain_end:
            read = ReadWithAppend(
                ChainEnd(None if row[2] is None else Head(row[2], row[3])),
                PreviousSpeaker(row[4]) if item.sender_role == SenderRole.BUYER.value else None,
            )
    else:
        seq = await _NEXT_SEQ.scalar(
            session, conversation_id=item.conversation_id, now=item.created_at
        )
        if seq is None:
            raise LookupError(f"conversation {item.conversation_id} does not exist")
        message_id = await _INSERT_MESSAGE.scalar(session, **values, seq=seq)
        await _RECORD_ACTIVITY.rows(
            session,
            conversation_id=item.conversation_id,
            reader_id=reader_id,
            created_at=item.created_at,
            seq=seq,
            message_id=message_id,
        )
    # Every column set (none is left to load later), without the attribute events that
    # setting them one by one would run.
    return untracked_row(Message, {**values, "seq": int(seq), "id": int(message_id)}), read


async def id_under_client_id(
    session: AsyncSession, conversation_id: int, sender_id: str, client_message_id: str
) -> int | None:
    """The id of the message this sender already stored under this client id, if any."""
    found = await _CLIENT_ID_TAKEN.scalar(
        session,
        conversation_id=conversation_id,
        sender_id=sender_id,
        client_message_id=client_message_id,
    )
    return None if found is None else int(found)


async def stored_message(session: AsyncSession, message_id: int) -> Message:
    """A message known to exist (by an id just read in this transaction)."""
    found = await session.get(Message, message_id)
    if found is None:
        raise LookupError(f"message {message_id} does not exist")
    return found


async def message_in(
    session: AsyncSession, conversation_id: int, message_id: int
) -> Message | None:
    """A message, only if it belongs to this conversation."""
    stmt = select(Message).where(
        Message.id == message_id, Message.conversation_id == conversation_id
    )
    return (await session.scalars(stmt)).one_or_none()


async def message_visible_to(
    session: AsyncSession, message_id: int, user_id: str
) -> Message | None:
    """A message, only if `user_id` takes part in its conversation."""
    stmt = (
        select(Message)
        .join(
            Participant,
            and_(
                Participant.conversation_id == Message.conversation_id,
                Participant.user_id == user_id,
            ),
        )
        .where(Message.id == message_id)
    )
    return (await session.scalars(stmt)).one_or_none()


def _unread_filter(user_id: str, after_seq: Any) -> list[ColumnElement[bool]]:
    return [
        Message.seq > after_seq,
        Message.kind != MessageKind.SYSTEM.value,
        Message.sender_id != user_id,
    ]


async def unread_count(
    session: AsyncSession, conversation_id: int, user_id: str, after_seq: int
) -> int:
    """The other party's items after a read marker, system items excluded."""
    stmt = (
        select(func.count())
        .select_from(Message)
        .where(Message.conversation_id == conversation_id, *_unread_filter(user_id, after_seq))
    )
    return int((await session.execute(stmt)).scalar_one())


async def page_messages(
    session: AsyncSession, conversation_id: int, *, before_seq: int | None, limit: int
) -> list[MessageRow]:
    """Up to limit+1 items of a thread, newest first, older than `before_seq`."""
    if before_seq is None:
        rows = await _PAGE_LATEST.rows(session, conversation_id=conversation_id, limit=limit + 1)
    else:
        rows = await _PAGE_BEFORE.rows(
            session, conversation_id=conversation_id, before_seq=before_seq, limit=limit + 1
        )
    return [MessageRow(*row) for row in rows]


# The inbox's statements, on the driver connection (kit/rawsql.py says why): SQLAlchemy's
# statement building, its expanding IN lists (rendered anew for every page) and its result
# processing were most of an inbox page's CPU.
# The display name as a subquery, not a join: a page's hundred members are a hundred look-ups
# by primary key, where PostgreSQL's generic plan for the join (sized for a ten-element list)
# read and hashed every user (0.6 ms against 0.2 at 1,900 users, and growing with them).
_MEMBERS = RawSql(
    "SELECT p.conversation_id, p.user_id,"
    " (SELECT u.display_name FROM users u WHERE u.id = p.user_id), p.role, p.last_read_seq,"
    " p.last_read_message_id, p.last_activity_at"
    " FROM participants p"
    " WHERE p.conversation_id IN (:ids) ORDER BY p.conversation_id, p.role",
    lists={"ids": "BIGINT"},
    datetimes=[6],
)


async def _members(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, list[Member]]:
    members: dict[int, list[Member]] = {cid: [] for cid in conversation_ids}
    for conversation_id, *member in await _MEMBERS.rows(session, ids=list(conversation_ids)):
        members[conversation_id].append(Member(*member))
    return members


_MESSAGE_COLUMNS = (
    "m.id, m.conversation_id, m.seq, m.kind, m.sender_id, m.sender_role, m.body,"
    " m.client_message_id, m.created_at, m.edited_at, m.edit_count, m.withdrawn_at"
)
_MESSAGE_DATETIMES = (8, 9, 11)
# A join on the conversation's last_seq rather than `(conversation_id, seq) IN (...)`:
# SQLite turns the row-value IN list into a scan of the whole messages index.
_LAST_MESSAGES = RawSql(
    f"SELECT {_MESSAGE_COLUMNS} FROM messages m JOIN conversations c"
    " ON c.id = m.conversation_id AND c.last_seq = m.seq WHERE c.id IN (:ids)",
    lists={"ids": "BIGINT"},
    datetimes=_MESSAGE_DATETIMES,
)
_PAGE = f"SELECT {_MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = :conversation_id"
_PAGE_LATEST = RawSql(f"{_PAGE} ORDER BY m.seq DESC LIMIT :limit", datetimes=_MESSAGE_DATETIMES)
_PAGE_BEFORE = RawSql(
    f"{_PAGE} AND m.seq < :before_seq ORDER BY m.seq DESC LIMIT :limit",
    datetimes=_MESSAGE_DATETIMES,
)


async def _last_messages(
    session: AsyncSession, conversations: Sequence[ConversationHead]
) -> dict[int, MessageRow]:
    ids = [c.id for c in conversations if c.last_seq > 0]
    if not ids:
        return {}
    rows = await _LAST_MESSAGES.rows(session, ids=ids)
    return {row[1]: MessageRow(*row) for row in rows}


async def view(session: AsyncSession, conversation: Conversation, user_id: str) -> ConversationView:
    """One conversation with its members, transaction, unread count and last message."""
    members = (await _members(session, [conversation.id]))[conversation.id]
    member = next((m for m in members if m.user_id == user_id), None)
    # Support reading in a dispute is no participant: a reader with nothing unread.
    me = (
        ReadState(member.last_read_seq, member.last_read_message_id, member.last_activity_at)
        if member is not None
        else ReadState(conversation.last_seq, None, conversation.last_message_at)
    )
    transaction = None
    if conversation.transaction_id:
        transaction_row = (
            await session.execute(
                select(*_TRANSACTION_HEAD).where(Transaction.id == conversation.transaction_id)
            )
        ).one()
        transaction = TransactionHead(*transaction_row)
    head = ConversationHead(
        conversation.id,
        conversation.kind,
        conversation.transaction_id,
        conversation.created_at,
        conversation.last_seq,
    )
    last = (await _last_messages(session, [head])).get(conversation.id)
    unread = await unread_count(session, conversation.id, user_id, me.last_read_seq)
    return ConversationView(head, me, members, transaction, unread, last)


# A page of the inbox: the viewer's conversations by their latest activity (keyset: before
# the last one of the previous page), with what each row shows and its unread count (the
# rule of `_unread_filter`: the other party's items after the marker, no system items).
_INBOX = """SELECT p.last_read_seq, p.last_read_message_id, p.last_activity_at,
 c.id, c.kind, c.transaction_id, c.created_at, c.last_seq,
 t.id, t.title, t.status, t.amount_minor, t.currency,
 (SELECT count(*) FROM messages m WHERE m.conversation_id = p.conversation_id
  AND m.seq > p.last_read_seq AND m.kind <> 'system' AND m.sender_id <> :user_id)
 FROM participants p JOIN conversations c ON c.id = p.conversation_id
 LEFT OUTER JOIN transactions t ON t.id = c.transaction_id
 WHERE p.user_id = :user_id AND p.last_activity_at IS NOT NULL {after}
 ORDER BY p.last_activity_at DESC, p.conversation_id DESC LIMIT :limit"""
_INBOX_FIRST = RawSql(_INBOX.format(after=""), datetimes=[2, 6])
# A row value, which both databases read as a range of the inbox index (user_id,
# last_activity_at, conversation_id): the OR of the same condition made them walk the index
# from the newest row down to the cursor, 900 entries for the 19th page.
_INBOX_AFTER = RawSql(
    _INBOX.format(after="AND (p.last_activity_at, p.conversation_id) < (:at, :conversation_id)"),
    datetimes=[2, 6],
)


async def inbox(
    session: AsyncSession,
    user_id: str,
    *,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[ConversationView]:
    """Up to limit+1 of a user's conversations with messages, by latest activity."""
    if after is None:
        rows = await _INBOX_FIRST.rows(session, user_id=user_id, limit=limit + 1)
    else:
        at, conversation_id = after
        rows = await _INBOX_AFTER.rows(
            session, user_id=user_id, limit=limit + 1, at=at, conversation_id=conversation_id
        )
    if not rows:
        return []
    conversations = [ConversationHead(*row[3:8]) for row in rows]
    members = await _members(session, [c.id for c in conversations])
    last = await _last_messages(session, conversations)
    return [
        ConversationView(
            conversation,
            ReadState(*row[:3]),
            members[conversation.id],
            TransactionHead(*row[8:13]) if row[8] is not None else None,
            int(row[13]),
            last.get(conversation.id),
        )
        for conversation, row in zip(conversations, rows, strict=True)
    ]


_WORD = re.compile(r"\w+", re.UNICODE)


def search_terms(query: str) -> list[str]:
    """The words of a search query, at most eight; punctuation and operators are dropped."""
    return _WORD.findall(query.lower())[:8]


async def search(
    session: AsyncSession, user_id: str, terms: Sequence[str], *, before_id: int | None, limit: int
) -> list[Message]:
    """Up to limit+1 messages of the user's conversations containing every term (the last as a
    prefix), newest first. SQLite uses FTS5, PostgreSQL a tsvector column; same semantics."""
    stmt = (
        select(Message)
        .join(
            Participant,
            and_(
                Participant.conversation_id == Message.conversation_id,
                Participant.user_id == user_id,
            ),
        )
        .order_by(Message.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        stmt = stmt.where(Message.id < before_id)
    if dialect_name(session) == "sqlite":
        # Each term is quoted, so nothing the user types is read as FTS5 syntax.
        match = " ".join(f'"{term}"' for term in terms[:-1])
        match = (match + f' "{terms[-1]}"*').strip()
        fts: Select[tuple[Any]] = (
            select(literal_column("rowid"))
            .select_from(text("messages_fts"))
            .where(text("messages_fts MATCH :match"))
        )
        stmt = stmt.where(Message.id.in_(fts)).params(match=match)
    else:
        # Terms are \w+ only, so they cannot inject tsquery operators.
        tsquery = " & ".join([*terms[:-1], terms[-1] + ":*"])
        stmt = stmt.where(text("messages.search_vector @@ to_tsquery('simple', :tsquery)")).params(
            tsquery=tsquery
        )
    # A common word matches a share of every message stored: on SQLite, do not hold up
    # everyone else's requests meanwhile.
    with off_the_loop():
        return list(await session.scalars(stmt))
