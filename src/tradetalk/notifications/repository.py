"""Queries of notifications: preferences, email cursors, the feed, webhook deliveries, stats."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User
from tradetalk.conversations.models import (
    Conversation,
    Message,
    MessageKind,
    Participant,
    ParticipantRole,
    SenderRole,
)
from tradetalk.kit.orm import dialect_name
from tradetalk.kit.rawsql import RawSql
from tradetalk.marketplace.models import Transaction
from tradetalk.notifications.models import (
    EmailCursor,
    EmailMode,
    Notification,
    NotificationSettings,
    WebhookDelivery,
)

# Items a seller can answer a buyer with; system notes are not answers.
REPLY_KINDS = (MessageKind.TEXT.value, MessageKind.OFFER.value, MessageKind.SHIPPING_UPDATE.value)


# --- preferences -------------------------------------------------------------------------


async def settings_of(session: AsyncSession, user_id: str) -> NotificationSettings | None:
    """A user's notification settings row (None: never changed, the defaults apply)."""
    return await session.get(NotificationSettings, user_id)


# Statements of every send, on the driver connection (kit/rawsql.py says why).
_EMAIL_MODE = RawSql("SELECT email_mode FROM notification_settings WHERE user_id = :user_id")
# Who spoke last before a buyer's message (every buyer's send asks): on the driver connection
# (kit/rawsql.py says why).
_PREVIOUS_SPEAKER = RawSql(
    "SELECT sender_role FROM messages WHERE conversation_id = :conversation_id"
    " AND seq < :seq AND sender_role IN ('buyer', 'seller') AND kind <> 'system'"
    " ORDER BY seq DESC LIMIT 1"
)


async def email_mode(session: AsyncSession, user_id: str) -> EmailMode:
    """A user's email mode (the default for a user without a settings row)."""
    mode = await _EMAIL_MODE.scalar(session, user_id=user_id)
    return EmailMode.BATCHED if mode is None else EmailMode(mode)


async def settings_for_update(
    session: AsyncSession, user_id: str, now: datetime
) -> NotificationSettings:
    """The user's settings row, made with the defaults when missing; locked until commit.

    Locking serialises the email work of one recipient across worker processes."""
    stmt = select(NotificationSettings).where(NotificationSettings.user_id == user_id)
    if dialect_name(session) != "sqlite":
        # Make sure the row exists (a concurrent insert waits, then does nothing), then lock
        # it. Not the user row: a send holds its conversation's lock while it bumps the
        # members' user rows (event ids), and an email goes on to write the conversation's
        # email cursor, so holding the user row here inverts that order and deadlocks both.
        await session.execute(
            postgresql_insert(NotificationSettings)
            .values(user_id=user_id, email_mode=EmailMode.BATCHED.value, updated_at=now)
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        stmt = stmt.with_for_update()
    row = (await session.scalars(stmt)).one_or_none()
    if row is None:
        row = NotificationSettings(
            user_id=user_id, email_mode=EmailMode.BATCHED.value, updated_at=now
        )
        session.add(row)
        await session.flush()
    return row


# --- email cursors and unread mail --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnreadItem:
    """An unread message not yet emailed, with what an email about it shows."""

    message: Message
    conversation: Conversation
    role: str  # the recipient's role in the conversation
    sender_name: str
    title: str | None  # the transaction's title (None for direct conversations)


async def unread_not_emailed(
    session: AsyncSession, user_id: str, *, active_since: datetime, limit: int
) -> list[UnreadItem]:
    """The other parties' messages this user has neither read nor been emailed about."""
    sender = User.__table__.alias("sender")
    stmt = (
        select(Message, Conversation, Participant.role, sender.c.display_name, Transaction.title)
        .join(Participant, Participant.conversation_id == Message.conversation_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(sender, sender.c.id == Message.sender_id)
        .outerjoin(Transaction, Transaction.id == Conversation.transaction_id)
        .outerjoin(
            EmailCursor,
            and_(
                EmailCursor.user_id == user_id,
                EmailCursor.conversation_id == Message.conversation_id,
            ),
        )
        .where(
            Participant.user_id == user_id,
            Participant.last_activity_at >= active_since,
            Message.seq > Participant.last_read_seq,
            Message.seq > func.coalesce(EmailCursor.last_emailed_seq, 0),
            Message.sender_id != user_id,
            Message.kind != MessageKind.SYSTEM.value,
        )
        .order_by(Message.conversation_id, Message.seq)
        .limit(limit)
    )
    rows = (await session.execute(stmt)).tuples()
    return [UnreadItem(m, c, role, name, title) for m, c, role, name, title in rows]


async def emailed_up_to(session: AsyncSession, user_id: str, conversation_id: int) -> int:
    """The seq of the newest message of the conversation emailed to this user (0: none)."""
    cursor = await session.get(EmailCursor, (user_id, conversation_id))
    return cursor.last_emailed_seq if cursor else 0


async def advance_email_cursors(
    session: AsyncSession, user_id: str, seqs: Mapping[int, int]
) -> None:
    """Record that messages up to these seqs (per conversation) went out by email."""
    if not seqs:
        return
    existing = {
        c.conversation_id: c
        for c in await session.scalars(
            select(EmailCursor).where(
                EmailCursor.user_id == user_id, EmailCursor.conversation_id.in_(list(seqs))
            )
        )
    }
    for conversation_id, seq in seqs.items():
        if (cursor := existing.get(conversation_id)) is not None:
            cursor.last_emailed_seq = max(cursor.last_emailed_seq, seq)
        else:
            session.add(
                EmailCursor(user_id=user_id, conversation_id=conversation_id, last_emailed_seq=seq)
            )
    await session.flush()


async def participant(
    session: AsyncSession, conversation_id: int, user_id: str
) -> Participant | None:
    """A user's membership of a conversation."""
    return await session.get(Participant, (conversation_id, user_id))


async def member_with_role(
    session: AsyncSession, conversation_id: int, role: str
) -> Participant | None:
    """The buyer or the seller of a conversation."""
    stmt = select(Participant).where(
        Participant.conversation_id == conversation_id, Participant.role == role
    )
    return (await session.scalars(stmt)).first()


async def previous_speaker(
    session: AsyncSession, conversation_id: int, before_seq: int
) -> str | None:
    """The role (buyer or seller) of the newest item of either before this position of the
    thread; None when there is none."""
    role = await _PREVIOUS_SPEAKER.scalar(session, conversation_id=conversation_id, seq=before_seq)
    return None if role is None else str(role)


async def seller_replied_after(session: AsyncSession, conversation_id: int, seq: int) -> bool:
    """True when the seller answered after this position of the thread."""
    stmt = (
        select(Message.id)
        .where(
            Message.conversation_id == conversation_id,
            Message.seq > seq,
            Message.sender_role == SenderRole.SELLER.value,
            Message.kind.in_(REPLY_KINDS),
        )
        .limit(1)
    )
    return (await session.scalars(stmt)).first() is not None


# --- the feed -----------------------------------------------------------------------------


async def blank_bodies(
    session: AsyncSession, conversation_id: int, user_ids: Iterable[str], bodies: Iterable[str]
) -> int:
    """Empty the body of these users' feed items about a conversation that show one of
    `bodies`; returns how many changed."""
    result = await session.execute(
        update(Notification)
        .where(
            Notification.conversation_id == conversation_id,
            Notification.user_id.in_(sorted(set(user_ids))),
            Notification.body.in_(sorted(set(bodies))),
        )
        .values(body="")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Folding a new message into the recipient's unseen item about its conversation: the item is
# picked by a subquery (LIMIT 1, as a look-up would) and counted up in SQL, so two sends
# folding into it at once both count. On the driver connection, as the rest of a send
# (kit/rawsql.py says why).
_FOLD_TEMPLATE = """UPDATE notifications SET count = count + 1,
 title = substr(CAST(:{p}before AS VARCHAR) || CAST(count + 1 AS VARCHAR)
 || CAST(:{p}after AS VARCHAR), 1, 200), body = :{p}body, created_at = :now
 WHERE id = (SELECT id FROM notifications WHERE user_id = :{p}user_id AND seen_at IS NULL
 AND type = :{p}type AND conversation_id = :{p}conversation_id LIMIT 1)
 RETURNING id"""
_FOLD = _FOLD_TEMPLATE.format(p="")
_FOLD_INTO_UNSEEN = RawSql(_FOLD)
_ADD_NOTIFICATION = RawSql(
    "INSERT INTO notifications (user_id, type, title, body, conversation_id, count, created_at)"
    " VALUES (:user_id, :type, :title, :body, :conversation_id, :count, :created_at)"
    " RETURNING id"
)


def note_ctes(prefix: str) -> str:
    """The parts of a PostgreSQL WITH that put a new message on a recipient's feed: `folded`
    (their unseen item about the conversation, counted up) or else `added` (a new item), each
    RETURNING the item's id. Parameters `:{prefix}user_id`, `type`, `conversation_id`, `title`,
    `before` and `after` (`PendingFeedNote.fold_parts`), `body`, and `:now`; a NULL user
    writes nothing (commit_writes.py passes one when there is no note)."""
    return (
        f"folded AS ({_FOLD_TEMPLATE.format(p=prefix)}), added AS (INSERT INTO notifications"
        " (user_id, type, title, body, conversation_id, count, created_at)"
        f" SELECT :{prefix}user_id, :{prefix}type, :{prefix}title, :{prefix}body,"
        f" :{prefix}conversation_id, 1, :now WHERE :{prefix}user_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM folded) RETURNING id)"
    )


# What a new message does to one recipient's feed, for PostgreSQL in one round trip: fold it
# into their unseen item about the conversation or, when there is none, add one; and read
# their email mode, which says what else the message queues for them. Exactly one row.
_NOTE_MESSAGE = RawSql(
    postgresql="WITH "
    + note_ctes("")
    + " SELECT (SELECT email_mode FROM notification_settings WHERE user_id = :user_id)"
    " FROM (SELECT id FROM folded UNION ALL SELECT id FROM added) AS item"
)


@dataclass(frozen=True, slots=True)
class PendingFeedNote:
    """A new message for a recipient's feed, as `note_message` writes it; `UnitOfWork.note`
    queues one for the commit when the recipient's email mode is known without asking."""

    user_id: str
    type: str
    conversation_id: int
    title: str
    fold_title: str
    body: str

    def fold_parts(self) -> tuple[str, str]:
        """`fold_title` around its `{count}`."""
        before, _, after = self.fold_title.partition("{count}")
        return before, after


async def add_feed_notes(
    session: AsyncSession, notes: Sequence[PendingFeedNote], now: datetime
) -> None:
    """Write pending feed notes, one statement each (commit_writes.py writes the usual single
    note together with the rest of a send's writes)."""
    for note in notes:
        await note_message(session, note, now)


async def note_message(session: AsyncSession, note: PendingFeedNote, now: datetime) -> EmailMode:
    """Put a new message on a recipient's feed and return their email mode (one round trip on
    PostgreSQL): folded into their unseen item of this type about the conversation (count + 1,
    `fold_title` with `{count}` filled in, the new body and time), so that a chatty thread is
    one feed line, or else as a new item titled `title`."""
    before, after = note.fold_parts()
    params = {
        "user_id": note.user_id, "type": note.type, "conversation_id": note.conversation_id,
        "before": before, "after": after, "body": note.body, "now": now,
    }  # fmt: skip
    if dialect_name(session) != "postgresql":
        mode = await email_mode(session, note.user_id)
        if await _FOLD_INTO_UNSEEN.row(session, **params) is None:
            await add_notification(
                session,
                Notification(
                    user_id=note.user_id, type=note.type, title=note.title, body=note.body,
                    conversation_id=note.conversation_id, count=1, created_at=now,
                ),
            )  # fmt: skip
        return mode
    stored = await _NOTE_MESSAGE.scalar(session, **params, title=note.title)
    return EmailMode.BATCHED if stored is None else EmailMode(stored)


async def add_notification(session: AsyncSession, item: Notification) -> Notification:
    """Insert a new feed item; it gets its id but is not kept in the session."""
    item.id = int(
        await _ADD_NOTIFICATION.scalar(
            session,
            user_id=item.user_id,
            type=item.type,
            title=item.title,
            body=item.body,
            conversation_id=item.conversation_id,
            count=item.count,
            created_at=item.created_at,
        )
    )
    item.seen_at = None
    return item


async def feed_page(
    session: AsyncSession,
    user_id: str,
    *,
    after: tuple[int, datetime, int] | None,
    limit: int,
) -> list[Notification]:
    """Up to limit+1 feed items: unseen first, then newest first; keyset on (seen, time, id)."""
    seen = case((Notification.seen_at.is_(None), 0), else_=1)
    stmt = select(Notification).where(Notification.user_id == user_id)
    if after is not None:
        after_seen, after_time, after_id = after
        later_key = or_(
            Notification.created_at < after_time,
            and_(Notification.created_at == after_time, Notification.id < after_id),
        )
        if after_seen == 0:
            unseen_later = and_(Notification.seen_at.is_(None), later_key)
            stmt = stmt.where(or_(Notification.seen_at.is_not(None), unseen_later))
        else:
            stmt = stmt.where(Notification.seen_at.is_not(None), later_key)
    stmt = stmt.order_by(seen, Notification.created_at.desc(), Notification.id.desc())
    return list(await session.scalars(stmt.limit(limit + 1)))


async def unseen_count(session: AsyncSession, user_id: str) -> int:
    """How many feed items the user has not seen."""
    stmt = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.seen_at.is_(None))
    )
    return int((await session.execute(stmt)).scalar_one())


async def mark_seen(
    session: AsyncSession,
    user_id: str,
    now: datetime,
    *,
    ids: Sequence[int] | None = None,
    conversation_id: int | None = None,
) -> int:
    """Mark the user's unseen items seen (all, these ids, or those of one conversation)."""
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.seen_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    if conversation_id is not None:
        stmt = stmt.where(Notification.conversation_id == conversation_id)
    result = await session.execute(
        stmt.values(seen_at=now).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- webhook deliveries -------------------------------------------------------------------


async def delivery_by_webhook_id(session: AsyncSession, webhook_id: str) -> WebhookDelivery | None:
    """The delivery record of one webhook event."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    return (await session.scalars(stmt)).one_or_none()


async def deliveries_page(
    session: AsyncSession, *, status: str | None, before_id: int | None, limit: int
) -> list[WebhookDelivery]:
    """Up to limit+1 deliveries, newest first."""
    stmt = select(WebhookDelivery)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if before_id is not None:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    stmt = stmt.order_by(WebhookDelivery.id.desc()).limit(limit + 1)
    return list(await session.scalars(stmt))


# --- response statistics ------------------------------------------------------------------


async def first_exchanges(
    session: AsyncSession, seller_id: str, since: datetime
) -> list[tuple[datetime, datetime | None]]:
    """Per conversation the user sells in, active since `since`: the time of the buyer's first
    message and of the seller's first reply (None when unanswered).

    Conversations the seller opened (their first item precedes the buyer's) are left out."""
    is_buyer = Message.sender_role == SenderRole.BUYER.value
    is_reply = and_(Message.sender_role == SenderRole.SELLER.value, Message.kind.in_(REPLY_KINDS))
    stmt = (
        select(
            func.min(case((is_buyer, Message.created_at))),
            func.min(case((is_buyer, Message.seq))),
            func.min(case((is_reply, Message.created_at))),
            func.min(case((is_reply, Message.seq))),
        )
        .select_from(Message)
        .join(Participant, Participant.conversation_id == Message.conversation_id)
        .where(
            Participant.user_id == seller_id,
            Participant.role == ParticipantRole.SELLER.value,
            # Only threads active in the window can have their first buyer message in it.
            Participant.last_activity_at >= since,
            Message.kind != MessageKind.SYSTEM.value,
        )
        .group_by(Message.conversation_id)
    )
    rows: list[tuple[datetime, datetime | None]] = []
    for buyer_at, buyer_seq, seller_at, seller_seq in (await session.execute(stmt)).tuples():
        if buyer_at is None:
            continue
        # Order by seq, not time: two items can share a timestamp, never a seq.
        if seller_seq is not None and seller_seq < buyer_seq:
            continue
        buyer_time = _aware(buyer_at)
        if buyer_time < since:
            continue
        rows.append((buyer_time, _aware(seller_at) if seller_at is not None else None))
    return rows


def _aware(value: datetime | str) -> datetime:
    # Aggregates over a TypeDecorator column may come back as raw text on SQLite.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
