"""Client API for offers and counteroffers (a user token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from tradetalk.accounts.models import User
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations.schemas import ConversationIdPath
from tradetalk.deps import Ctx, CurrentReader, CurrentUser, ReadSession, UoW
from tradetalk.kit.schemas import problems
from tradetalk.offers import repository as offers_repo
from tradetalk.offers import service as offers_service
from tradetalk.offers.machine import OfferAction
from tradetalk.offers.schemas import OfferCreate, OfferIdPath, OfferOut, offer_out

router = APIRouter(prefix="/v1", tags=["client: offers"])

_CONFLICTS: dict[int | str, dict[str, Any]] = {
    409: {
        **problems(409)[409],
        "description": "Not allowed in the offer's state or for the caller: `offer_not_open`, "
        "`offer_expired`, `cannot_answer_own_offer`, `not_your_offer`, `open_offer_exists`.",
    }
}


@router.post(
    "/conversations/{conversation_id}/offers",
    response_model=OfferOut,
    status_code=status.HTTP_201_CREATED,
    responses={**problems(401, 403, 404, 422, 429), **_CONFLICTS},
)
async def make_offer(
    conversation_id: ConversationIdPath, payload: OfferCreate, actor: CurrentUser, uow: UoW
) -> OfferOut:
    """Offer a price for a quantity; replaces the caller's own open offer in the conversation."""
    conversation = await conversations_repo.get_visible(uow.session, conversation_id, actor.id)
    offer = await offers_service.do_make(uow, conversation, actor, payload)
    return offer_out(offer, uow.now)


@router.get("/offers/{offer_id}", response_model=OfferOut, responses=problems(401, 404, 422))
async def get_offer(
    offer_id: OfferIdPath, actor: CurrentReader, session: ReadSession, ctx: Ctx
) -> OfferOut:
    """An offer of one of the caller's conversations, as it stands now."""
    offer = await offers_repo.get_visible(session, offer_id, actor.id)
    return offer_out(offer, ctx.clock.now())


async def _answer(uow: UoW, offer_id: int, actor: User, action: OfferAction) -> OfferOut:
    offer = await offers_repo.get_visible(uow.session, offer_id, actor.id)
    # An expiry found on the way commits with the 409 (OfferExpired is a CommittedRefusal).
    offer = await offers_service.do_answer(uow, offer, actor, action)
    return offer_out(offer, uow.now)


@router.post(
    "/offers/{offer_id}/accept",
    response_model=OfferOut,
    responses={**problems(401, 403, 404, 422), **_CONFLICTS},
)
async def accept_offer(offer_id: OfferIdPath, actor: CurrentUser, uow: UoW) -> OfferOut:
    """Accept the other party's open offer; the operator is told (webhook `offer.accepted`)."""
    return await _answer(uow, offer_id, actor, OfferAction.ACCEPT)


@router.post(
    "/offers/{offer_id}/decline",
    response_model=OfferOut,
    responses={**problems(401, 403, 404, 422), **_CONFLICTS},
)
async def decline_offer(offer_id: OfferIdPath, actor: CurrentUser, uow: UoW) -> OfferOut:
    """Decline the other party's open offer."""
    return await _answer(uow, offer_id, actor, OfferAction.DECLINE)


@router.post(
    "/offers/{offer_id}/withdraw",
    response_model=OfferOut,
    responses={**problems(401, 403, 404, 422), **_CONFLICTS},
)
async def withdraw_offer(offer_id: OfferIdPath, actor: CurrentUser, uow: UoW) -> OfferOut:
    """Withdraw the caller's own open offer."""
    return await _answer(uow, offer_id, actor, OfferAction.WITHDRAW)


@router.post(
    "/offers/{offer_id}/counter",
    response_model=OfferOut,
    status_code=status.HTTP_201_CREATED,
    responses={**problems(401, 403, 404, 422, 429), **_CONFLICTS},
)
async def counter_offer(
    offer_id: OfferIdPath, payload: OfferCreate, actor: CurrentUser, uow: UoW
) -> OfferOut:
    """Answer the other party's open offer with a new one (201: the counteroffer)."""
    offer = await offers_repo.get_visible(uow.session, offer_id, actor.id)
    counter = await offers_service.do_counter(uow, offer, actor, payload)
    return offer_out(counter, uow.now)
