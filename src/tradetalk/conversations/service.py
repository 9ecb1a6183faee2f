"""The rules of conversations: who talks where, sending, reading."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.models import User
from tradetalk.attachments import repository as attachments_repo
from tradetalk.attachments import service as attachments_service
from tradetalk.attachments.models import Attachment
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations.models import (
    Conversation,
    ConversationKind,
    Membership,
    Message,
    MessageKind,
    NewItem,
    Participant,
    ParticipantRole,
    SenderRole,
    ShownMessage,
)
from tradetalk.conversations.repository import ReadWithAppend
from tradetalk.conversations.schemas import MessageCreate, MessageOut
from tradetalk.db import UnitOfWork
from tradetalk.errors import DirectMessagesDisabled, InvalidRequest, NotFound, RateLimited
from tradetalk.kit.ratelimit import per_minute
from tradetalk.marketplace import repository as transactions_repo
from tradetalk.notifications import service as notifications_service
from tradetalk.offers import repository as offers_repo
from tradetalk.offers.schemas import OfferOut, offer_out
from tradetalk.protection import repository as protection_repo
from tradetalk.protection import service as protection_service
from tradetalk.protection.policy import Verdict
from tradetalk.protection.repository import SenderStanding
from tradetalk.protection.service import BlockedByUser
from tradetalk.record import service as record_service
from tradetalk.shipping import repository as shipping_repo
from tradetalk.shipping.schemas import ShippingUpdateOut


class UnknownMessage(InvalidRequest):
    code = "unknown_message"
    title = "The message is not part of this conversation"


class CannotMessageSelf(InvalidRequest):
    code = "cannot_message_self"
    title = "A user cannot start a conversation with themselves"


def message_out(
    message: ShownMessage,
    *,
    offer: OfferOut | None = None,
    shipping: ShippingUpdateOut | None = None,
    attachments: Sequence[Attachment] = (),
) -> MessageOut:
    """The public form of a message, as the API and the event stream carry it."""
    out = MessageOut.model_validate(message, from_attributes=True)
    out.offer = offer
    out.shipping = shipping
    if attachments:
        out.attachments = [attachments_service.attachment_out(a) for a in attachments]
    return out


async def messages_out(
    session: AsyncSession, messages: Sequence[ShownMessage], now: datetime
) -> list[MessageOut]:
    """Thread items in their public form, with offers, shipping updates and attachments
    loaded for the whole page at once (one query per kind of detail, none when absent)."""
    # The members themselves, not `.value`: they are strings, and an enum's `.value` is a
    # descriptor call (two per item of every page).
    offers = await offers_repo.for_messages(
        session, [m.id for m in messages if m.kind == MessageKind.OFFER]
    )
    shipping = await shipping_repo.for_messages(
        session, [m.id for m in messages if m.kind == MessageKind.SHIPPING_UPDATE]
    )
    files = await attachments_repo.for_messages(session, [m.id for m in messages])
    out = []
    for message in messages:
        offer = offers.get(message.id)
        update = shipping.get(message.id)
        out.append(
            message_out(
                message,
                attachments=files.get(message.id, ()),
                offer=offer_out(offer, now) if offer else None,
                shipping=ShippingUpdateOut.model_validate(update, from_attributes=True)
                if update
                else None,
            )
        )
    return out


async def _create(
    uow: UnitOfWork,
    *,
    kind: ConversationKind,
    created_by: str,
    members: dict[str, ParticipantRole],
    transaction_id: str | None = None,
    direct_key: str | None = None,
) -> Conversation | None:
    """Insert a conversation and its members; None when a concurrent request won the race."""
    conversation = Conversation(
        kind=kind.value,
        transaction_id=transaction_id,
        direct_key=direct_key,
        created_by=created_by,
        created_at=uow.now,
        last_seq=0,
    )
    try:
        async with uow.savepoint():
            uow.session.add(conversation)
            await uow.session.flush()
            uow.session.add_all(
                Participant(
                    conversation_id=conversation.id,
                    user_id=user_id,
                    role=role.value,
                    last_read_seq=0,
                    joined_at=uow.now,
                )
                for user_id, role in members.items()
            )
            await uow.session.flush()
    except IntegrityError:
        return None
    return conversation


async def do_open_for_transaction(
    uow: UnitOfWork, transaction_id: str, actor: User
) -> Conversation:
    """The conversation of a transaction the actor is buyer or seller of, made on first use."""
    transaction = await transactions_repo.get(uow.session, transaction_id)
    if transaction is None or actor.id not in (transaction.buyer_id, transaction.seller_id):
        raise NotFound("No such transaction.")
    existing = await conversations_repo.for_transaction(uow.session, transaction_id)
    if existing is not None:
        return existing
    created = await _create(
        uow,
        kind=ConversationKind.TRANSACTION,
        created_by=actor.id,
        members={
            transaction.buyer_id: ParticipantRole.BUYER,
            transaction.seller_id: ParticipantRole.SELLER,
        },
        transaction_id=transaction_id,
    )
    if created is None:  # opened at the same moment by the other party
        created = await conversations_repo.for_transaction(uow.session, transaction_id)
        assert created is not None
    return created


def direct_key(user_a: str, user_b: str) -> str:
    """The key of the one direct conversation of a pair of users."""
    first, second = sorted((user_a, user_b))
    return f"{first}\x1f{second}"


async def check_start_direct(uow: UnitOfWork, actor: User, other_user_id: str) -> User:
    """Direct messages must be on, the other user must exist, and the daily and hourly quotas
    of new conversations must allow."""
    settings = uow.ctx.settings
    if not settings.direct_messages:
        raise DirectMessagesDisabled("Conversations start from a transaction on this marketplace.")
    if other_user_id == actor.id:
        raise CannotMessageSelf()
    other = await users_repo.get(uow.session, other_user_id)
    if other is None:
        raise NotFound("No such user.")
    if settings.rate_limits:
        day, hour = timedelta(days=1), timedelta(hours=1)
        started = await conversations_repo.direct_started_since(
            uow.session, actor.id, uow.now - day
        )
        if len(started) >= settings.direct_conversations_per_day:
            retry_after = started[0] + day - uow.now
            raise RateLimited(
                f"You can start {settings.direct_conversations_per_day} new conversations a day.",
                retry_after_seconds=int(retry_after.total_seconds()) + 1,
            )
        this_hour = [at for at in started if at > uow.now - hour]
        if len(this_hour) >= settings.conversations_per_hour:
            retry_after = this_hour[0] + hour - uow.now
            raise RateLimited(
                f"You can start {settings.conversations_per_hour} new conversations an hour.",
                retry_after_seconds=int(retry_after.total_seconds()) + 1,
            )
    return other


async def do_start_direct(
    uow: UnitOfWork, actor: User, other_user_id: str
) -> tuple[Conversation, bool]:
    """The direct conversation of the actor and another user; True when newly made."""
    key = direct_key(actor.id, other_user_id)
    existing = await conversations_repo.direct_between(uow.session, key)
    if existing is not None:
        return existing, False
    other = await check_start_direct(uow, actor, other_user_id)
    await protection_service.check_direct_allowed(uow, actor.id, other.id)
    created = await _create(
        uow,
        kind=ConversationKind.DIRECT,
        created_by=actor.id,
        members={actor.id: ParticipantRole.BUYER, other.id: ParticipantRole.SELLER},
        direct_key=key,
    )
    if created is None:
        raced = await conversations_repo.direct_between(uow.session, key)
        assert raced is not None
        return raced, False
    return created, True


async def check_may_post(
    uow: UnitOfWork,
    conversation: Conversation,
    sender: User,
    members: Sequence[Membership] | None = None,
) -> None:
    """Raise when the sender may not post in this conversation now (any kind of item)."""
    await protection_service.check_may_send(uow, sender)
    await _check_conversation_takes(uow, conversation, sender, members)


async def _check_conversation_takes(
    uow: UnitOfWork,
    conversation: Conversation,
    sender: User,
    members: Sequence[Membership] | None,
) -> None:
    # What check_may_post checks besides the sender's own standing: blocks and rate limits.
    settings = uow.ctx.settings
    if members is None:
        members = await conversations_repo.participants(uow.session, conversation.id)
    if conversation.kind == ConversationKind.DIRECT.value:
        others = [p.user_id for p in members if p.user_id != sender.id]
        for other in others:
            if await protection_repo.has_blocked(uow.session, other, sender.id):
                raise BlockedByUser()
        limit = per_minute(settings.direct_messages_per_minute)
    else:
        limit = per_minute(settings.messages_per_minute)
    await uow.ctx.limiter.hit(limit, "send", conversation.kind, sender.id, what="messages")


async def check_send(
    uow: UnitOfWork,
    conversation: Conversation,
    sender: User,
    members: Sequence[Membership],
    body: str,
    standing: SenderStanding,
) -> Verdict:
    """Raise when the sender may not post now; return the shield's verdict on the text.

    `standing` is the sender's, as `protection_service.sender_standing` read it."""
    # check_may_post's checks, in its order.
    protection_service.check_standing(standing)
    await _check_conversation_takes(uow, conversation, sender, members)
    return protection_service.screen_in_context(uow, body, standing.recent_bodies)


async def do_send(
    uow: UnitOfWork,
    conversation: Conversation,
    sender: User,
    payload: MessageCreate,
    *,
    sender_role: SenderRole | None = None,
    locked: bool = False,
    members: Sequence[Membership] | None = None,
) -> Message:
    """Store the message once per client_message_id and emit it to the participants.

    A message the shield blocks is not stored: the attempt is recorded (a strike) and
    ContactInfoBlocked is raised, which commits that record with the 422.

    `sender_role` is for senders who are not members (support in a dispute); `locked` says
    that the caller holds the conversation's row lock already (get_readable with lock), and
    `members` the conversation's members when the caller read them already."""
    session = uow.session
    if payload.client_message_id is not None and not locked:
        # A concurrent retry may be committing the same client id: take the conversation's
        # lock first (which the send needs for its position anyway), so that the look-up
        # below sees that retry's message once it has committed. One look-up, not one on each
        # side of the lock: a round trip fewer for every send, and a retry waits no longer
        # than the send it repeats. (SQLite: the transaction already excludes other writers.)
        await conversations_repo.lock(session, conversation.id)
        locked = True
    # The sender's standing, shield context and earlier message under this client id, read
    # in one round trip, under the lock.
    standing = await protection_service.sender_standing(
        uow, sender, conversation.id, payload.client_message_id
    )
    if standing.earlier_message_id is not None:
        # a retry: the same message, nothing emitted twice
        return await conversations_repo.stored_message(session, standing.earlier_message_id)
    if members is None:
        members = await conversations_repo.member_roles(session, conversation.id)
    role = sender_role or next((p.role for p in members if p.user_id == sender.id), None)
    if role is None:  # get_visible guarantees membership; this guards direct service callers
        raise NotFound("No such conversation.")
    verdict = await check_send(uow, conversation, sender, members, payload.body, standing)
    if verdict.blocked:
        await protection_service.do_refuse(
            uow, conversation, sender, payload.body, verdict, payload.client_message_id
        )
    new_message = NewItem(
        conversation_id=conversation.id,
        kind=MessageKind.TEXT.value,
        sender_id=sender.id,
        sender_role=role,
        body=verdict.text_for_recipient,
        client_message_id=payload.client_message_id,
        created_at=uow.now,
    )
    read: ReadWithAppend | None = None
    if locked:  # the ledger's head (and previous speaker) come with the message's position
        message, read = await conversations_repo.append_message_locked(session, new_message)
    else:
        message = await conversations_repo.append_message(session, new_message)
    attachments = await attachments_service.do_claim(
        uow,
        sender,
        message_id=message.id,
        conversation_id=conversation.id,
        attachment_ids=payload.attachment_ids,
    )
    if verdict.needs_review:
        await protection_service.do_queue_delivered(uow, message, payload.body, verdict)
    await do_announce(
        uow,
        conversation,
        message,
        message_out(message, attachments=attachments),
        members,
        sender,
        attachments=attachments,
        read_with_append=read,
    )
    return message


async def do_announce(
    uow: UnitOfWork,
    conversation: Conversation,
    message: Message,
    public: MessageOut,
    members: Sequence[Membership] | None = None,
    sender: User | None = None,
    *,
    attachments: Sequence[Attachment] = (),
    record_details: Mapping[str, Any] | None = None,
    read_with_append: ReadWithAppend | None = None,
) -> None:
    """Put a new thread item on the record and tell the participants (`public` is its API
    form): the `message.created` event, and for a person's item the notifications it causes.

    Call it holding the conversation's lock (`append_message` takes it), so the record stays
    a chain; `read_with_append` is what the caller's append read under that lock (the
    ledger's head, the previous speaker), when it did."""
    await record_service.record_posted(
        uow,
        message,
        attachments=attachments,
        details=record_details,
        chain_end=read_with_append.chain_end if read_with_append else None,
    )
    if members is None:
        members = await conversations_repo.participants(uow.session, conversation.id)
    data = public.model_dump(mode="json")
    recipients = {p.user_id for p in members}
    if message.sender_id is not None:
        recipients.add(message.sender_id)  # support writing in a dispute sees its own message
    uow.emit("message.created", data, to=recipients)
    if message.sender_id is None:
        return  # system notes are not worth an email
    if sender is None:
        sender = await users_repo.get(uow.session, message.sender_id)
        assert sender is not None
    await notifications_service.on_message_created(
        uow,
        conversation,
        message,
        members,
        sender,
        data,
        previous_speaker=read_with_append.previous_speaker if read_with_append else None,
    )


async def do_mark_read(
    uow: UnitOfWork, conversation: Conversation, reader: User, message_id: int
) -> Participant:
    """Move the reader's marker forward to this message (never backwards)."""
    message = await conversations_repo.message_in(uow.session, conversation.id, message_id)
    if message is None:
        raise UnknownMessage()
    members = await conversations_repo.participants(uow.session, conversation.id)
    me = next(p for p in members if p.user_id == reader.id)
    if message.seq > me.last_read_seq:
        me.last_read_seq = message.seq
        me.last_read_message_id = message.id
        await uow.session.flush()
        uow.emit(
            "conversation.read",
            {
                "conversation_id": conversation.id,
                "user_id": reader.id,
                "last_read_message_id": message.id,
                "last_read_seq": message.seq,
            },
            to=[p.user_id for p in members],
        )
        await notifications_service.on_conversation_read(uow, conversation.id, reader.id)
    return me


async def do_add_item(
    uow: UnitOfWork,
    conversation: Conversation,
    *,
    kind: MessageKind,
    sender: Participant | None,
    body: str,
) -> Message:
    """Append a structured item (offer, shipping update, system note) to the thread.

    The caller emits `message.created` once the item's details are attached."""
    return await conversations_repo.append_message(
        uow.session,
        NewItem(
            conversation_id=conversation.id,
            kind=kind.value,
            sender_id=sender.user_id if sender else None,
            sender_role=sender.role if sender else SenderRole.SYSTEM.value,
            body=body,
            client_message_id=None,
            created_at=uow.now,
        ),
    )


async def do_post_system_item(uow: UnitOfWork, conversation: Conversation, body: str) -> Message:
    """Post a short note from the platform ("Order marked as shipped") to both participants."""
    message = await do_add_item(uow, conversation, kind=MessageKind.SYSTEM, sender=None, body=body)
    await do_announce(uow, conversation, message, message_out(message))
    return message
