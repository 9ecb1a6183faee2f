"""Client API for shipping updates (a user token)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations.schemas import ConversationIdPath
from tradetalk.deps import CurrentUser, UoW
from tradetalk.kit.schemas import problems
from tradetalk.shipping import service as shipping_service
from tradetalk.shipping.schemas import ShippingUpdateCreate, ShippingUpdateOut

router = APIRouter(prefix="/v1", tags=["client: shipping updates"])


@router.post(
    "/conversations/{conversation_id}/shipping-updates",
    response_model=ShippingUpdateOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ShippingUpdateOut, "description": "This number was already posted here."},
        **problems(401, 403, 404, 422, 429),
    },
)
async def post_shipping_update(
    conversation_id: ConversationIdPath,
    payload: ShippingUpdateCreate,
    actor: CurrentUser,
    uow: UoW,
    response: Response,
) -> ShippingUpdateOut:
    """Post a tracking number to the thread (seller only; 403 `seller_only` for the buyer).

    The number is checked by format and check digit (422 `invalid_tracking_number`); a given
    `carrier` must agree with it (422 `carrier_mismatch`). The item links to the carrier's
    tracking page."""
    conversation = await conversations_repo.get_visible(uow.session, conversation_id, actor.id)
    update, created = await shipping_service.do_post(uow, conversation, actor, payload)
    if not created:
        response.status_code = status.HTTP_200_OK
    return shipping_service.shipping_out(update)
