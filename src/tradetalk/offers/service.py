"""The rules of offers: making, countering, answering, withdrawing, expiring."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradetalk.accounts.models import User
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations import service as conversations_service
from tradetalk.conversations.models import (
    Conversation,
    MessageKind,
    Participant,
    ParticipantRole,
)
from tradetalk.db import UnitOfWork
from tradetalk.errors import Conflict, Forbidden, InvalidRequest, NotFound
from tradetalk.offers import repository as offers_repo
from tradetalk.offers.machine import (
    OfferAction,
    OfferExpired,
    OfferNotOpen,
    OfferStatus,
    Party,
    decide,
    is_expired,
)
from tradetalk.offers.models import Offer
from tradetalk.offers.money import format_amount
from tradetalk.offers.schemas import OfferCreate, offer_out
from tradetalk.protection import service as protection_service
from tradetalk.record import service as record_service
from tradetalk.record.chain import canonical_time


class OpenOfferExists(Conflict):
    code = "open_offer_exists"
    title = "The other party's offer is still open"


class NotAParty(Forbidden):
    code = "not_offer_party"
    title = "Only the buyer and the seller act on offers"


class BadExpiry(InvalidRequest):
    code = "invalid_expiry"
    title = "The expiry must be in the future and within the allowed time"


_TIMES = "\u00d7"  # the multiplication sign, as in "USD 120.00 x 2" typeset


# Offers pass between the buyer and the seller, whoever else may read the thread.
_OTHER_SIDE = {
    ParticipantRole.BUYER.value: ParticipantRole.SELLER.value,
    ParticipantRole.SELLER.value: ParticipantRole.BUYER.value,
}


def _party(offer: Offer, actor: User) -> Party:
    if actor.id == offer.maker_id:
        return Party.MAKER
    if actor.id == offer.recipient_id:
        return Party.RECIPIENT
    # Someone else who can see the thread (support joining a dispute) reads offers, never acts.
    raise NotAParty()


def _summary(offer: OfferCreate, *, counter: bool) -> str:
    label = "Counteroffer" if counter else "Offer"
    line = f"{label}: {format_amount(offer.amount_minor, offer.currency)} {_TIMES} {offer.quantity}"
    return f"{line}\n{offer.note}" if offer.note else line


async def _emit_updated(uow: UnitOfWork, offer: Offer) -> None:
    """Record an offer's new state in the conversation's record and tell both parties."""
    # The record is a chain per conversation: appends queue on the conversation's lock.
    await conversations_repo.lock(uow.session, offer.conversation_id)
    await record_service.append(
        uow,
        offer.conversation_id,
        "offer.updated",
        {
            "offer_id": offer.id,
            "message_id": offer.message_id,
            "status": offer.status,
            "amount_minor": offer.amount_minor,
            "currency": offer.currency,
            "quantity": offer.quantity,
        },
    )
    uow.emit(
        "offer.updated",
        offer_out(offer, uow.now).model_dump(mode="json"),
        to=(offer.maker_id, offer.recipient_id),
    )


def check_expiry(uow: UnitOfWork, payload: OfferCreate) -> datetime | None:
    """When the new offer lapses: as asked, or the default lifetime; never in the past."""
    settings = uow.ctx.settings
    expires_at = payload.expires_at
    if expires_at is None:
        if not settings.offer_ttl_hours:
            return None
        return uow.now + timedelta(hours=settings.offer_ttl_hours)
    longest = timedelta(days=settings.offer_max_ttl_days)
    if expires_at <= uow.now or expires_at > uow.now + longest:
        raise BadExpiry(
            f"expires_at must be after now and at most {settings.offer_max_ttl_days} days ahead."
        )
    return expires_at


async def check_note(
    uow: UnitOfWork, conversation: Conversation, maker: User, note: str | None
) -> str | None:
    """The note as the recipient will see it: the shield judges it like a message."""
    if note is None:
        return None
    verdict = await protection_service.screen(
        uow, note, conversation_id=conversation.id, sender_id=maker.id
    )
    if verdict.blocked:
        await protection_service.do_refuse(uow, conversation, maker, note, verdict)
    # Offers are reviewed through their thread item; a masked note is what the recipient sees.
    return verdict.text_for_recipient


async def _expire(uow: UnitOfWork, offer: Offer) -> bool:
    """Record that an open offer's time is up; False when another request closed it first."""
    if not await offers_repo.close_if_open(uow.session, offer, OfferStatus.EXPIRED, uow.now):
        return False
    await _emit_updated(uow, offer)
    return True


async def _refuse_if_lapsed(uow: UnitOfWork, offer: Offer) -> None:
    """Expire an open offer whose time has come, then refuse the action that found it.

    The caller must keep (commit) the expiry even though the action fails."""
    lapsed = offer.status == OfferStatus.OPEN.value and is_expired(offer.expires_at, uow.now)
    if lapsed and await _expire(uow, offer):
        raise OfferExpired(
            "The offer expired before this action.",
            extra={"offer_status": OfferStatus.EXPIRED.value},
        )


async def _members(
    uow: UnitOfWork, conversation: Conversation, maker: User
) -> tuple[Participant, Participant]:
    members = await conversations_repo.participants(uow.session, conversation.id)
    me = next((p for p in members if p.user_id == maker.id), None)
    if me is None:  # get_visible guarantees membership; this guards direct service callers
        raise NotFound("No such conversation.")
    if me.role not in _OTHER_SIDE:
        raise NotAParty()
    other = next((p for p in members if p.role == _OTHER_SIDE[me.role]), None)
    if other is None:
        raise NotFound("No such conversation.")
    return me, other


async def _add_offer(
    uow: UnitOfWork,
    conversation: Conversation,
    maker: Participant,
    recipient: Participant,
    payload: OfferCreate,
    *,
    note: str | None,
    expires_at: datetime | None,
    in_reply_to: Offer | None,
) -> Offer:
    payload = payload.model_copy(update={"note": note})
    message = await conversations_service.do_add_item(
        uow,
        conversation,
        kind=MessageKind.OFFER,
        sender=maker,
        body=_summary(payload, counter=in_reply_to is not None),
    )
    offer = Offer(
        conversation_id=conversation.id,
        message_id=message.id,
        transaction_id=conversation.transaction_id,
        maker_id=maker.user_id,
        maker_role=maker.role,
        recipient_id=recipient.user_id,
        status=OfferStatus.OPEN.value,
        amount_minor=payload.amount_minor,
        currency=payload.currency,
        quantity=payload.quantity,
        note=note,
        expires_at=expires_at,
        in_reply_to=in_reply_to.id if in_reply_to else None,
        superseded_by=None,
        created_at=uow.now,
        closed_at=None,
    )
    uow.session.add(offer)
    await uow.session.flush()
    await conversations_service.do_announce(
        uow,
        conversation,
        message,
        conversations_service.message_out(message, offer=offer_out(offer, uow.now)),
        [maker, recipient],
        record_details={
            "offer_id": offer.id,
            "amount_minor": offer.amount_minor,
            "currency": offer.currency,
            "quantity": offer.quantity,
            "note": offer.note,
            "expires_at": canonical_time(offer.expires_at) if offer.expires_at else None,
            "in_reply_to": offer.in_reply_to,
        },
    )
    return offer


async def do_make(
    uow: UnitOfWork, conversation: Conversation, maker: User, payload: OfferCreate
) -> Offer:
    """Make an offer in a conversation; it replaces the maker's own open offer, if any.

    The other party's open offer must be answered first (accept, decline or counter)."""
    # Offers of one conversation are made one at a time: the open-offer check below holds.
    await conversations_repo.lock(uow.session, conversation.id)
    me, other = await _members(uow, conversation, maker)
    current = await offers_repo.open_in(uow.session, conversation.id)
    if (
        current is not None
        and current.maker_id != maker.id
        and not is_expired(current.expires_at, uow.now)
    ):
        raise OpenOfferExists(
            "Accept, decline or counter the open offer instead.", extra={"offer_id": current.id}
        )
    await conversations_service.check_may_post(uow, conversation, maker)
    expires_at = check_expiry(uow, payload)
    note = await check_note(uow, conversation, maker, payload.note)
    replaced = None
    if current is not None:
        if is_expired(current.expires_at, uow.now):
            await _expire(uow, current)
        else:
            decide(OfferStatus.OPEN, OfferAction.REPLACE, Party.MAKER)
            if await offers_repo.close_if_open(
                uow.session, current, OfferStatus.WITHDRAWN, uow.now
            ):
                replaced = current
    offer = await _add_offer(
        uow, conversation, me, other, payload, note=note, expires_at=expires_at, in_reply_to=None
    )
    if replaced is not None:
        replaced.superseded_by = offer.id
        await uow.session.flush()
        await _emit_updated(uow, replaced)
    return offer


async def do_counter(uow: UnitOfWork, offer: Offer, actor: User, payload: OfferCreate) -> Offer:
    """Answer an open offer with a new one: the answered offer becomes `countered`."""
    await conversations_repo.lock(uow.session, offer.conversation_id)
    await uow.session.refresh(offer)
    await _refuse_if_lapsed(uow, offer)
    decide(OfferStatus(offer.status), OfferAction.COUNTER, _party(offer, actor))
    conversation = await conversations_repo.get_visible(
        uow.session, offer.conversation_id, actor.id
    )
    me, other = await _members(uow, conversation, actor)
    await conversations_service.check_may_post(uow, conversation, actor)
    expires_at = check_expiry(uow, payload)
    note = await check_note(uow, conversation, actor, payload.note)
    if not await offers_repo.close_if_open(uow.session, offer, OfferStatus.COUNTERED, uow.now):
        raise OfferNotOpen(extra={"offer_status": offer.status})
    counter = await _add_offer(
        uow, conversation, me, other, payload, note=note, expires_at=expires_at, in_reply_to=offer
    )
    offer.superseded_by = counter.id
    await uow.session.flush()
    await _emit_updated(uow, offer)
    return counter


async def do_answer(uow: UnitOfWork, offer: Offer, actor: User, action: OfferAction) -> Offer:
    """Accept, decline or withdraw an open offer, once: a racing second answer gets 409.

    Accepting tells the operator (webhook `offer.accepted`); the transaction is left as it is."""
    await _refuse_if_lapsed(uow, offer)
    target = decide(OfferStatus(offer.status), action, _party(offer, actor))
    if not await offers_repo.close_if_open(uow.session, offer, target, uow.now):
        raise OfferNotOpen(
            f"The offer is {offer.status}; only an open offer can change.",
            extra={"offer_status": offer.status},
        )
    await _emit_updated(uow, offer)
    if target is OfferStatus.ACCEPTED:
        uow.outbox(
            "webhook",
            {"type": "offer.accepted", "data": offer_out(offer, uow.now).model_dump(mode="json")},
            key=f"offer.accepted:{offer.id}",
        )
    return offer
