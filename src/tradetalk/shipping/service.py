"""The rules of shipping updates: the seller posts a tracking number the carrier would accept."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tradetalk.accounts.models import User
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations import service as conversations_service
from tradetalk.conversations.models import Conversation, MessageKind, ParticipantRole
from tradetalk.db import UnitOfWork
from tradetalk.errors import Forbidden, InvalidRequest, NotFound
from tradetalk.protection.tracking import TrackingMatch, tracking_candidates
from tradetalk.shipping import repository as shipping_repo
from tradetalk.shipping.models import ShippingUpdate
from tradetalk.shipping.schemas import ShippingUpdateCreate, ShippingUpdateOut


class SellerOnly(Forbidden):
    code = "seller_only"
    title = "Only the seller posts shipping updates"


class InvalidTrackingNumber(InvalidRequest):
    code = "invalid_tracking_number"
    title = "Not a tracking number of a supported carrier (format or check digit)"


class CarrierMismatch(InvalidRequest):
    code = "carrier_mismatch"
    title = "The tracking number does not belong to that carrier"


# How sellers name carriers, folded to letters and digits, to the names the matcher uses.
_CARRIER_ALIASES = {
    "usps": "United States Postal Service",
    "uspostalservice": "United States Postal Service",
    "unitedparcelservice": "UPS",
    "federalexpress": "FedEx",
    "fedexground": "FedEx",
    "fedexexpress": "FedEx",
    "dhlexpress": "DHL",
    "dhlecommerce": "DHL",
    "amazonlogistics": "Amazon",
    "amazonshipping": "Amazon",
    "postescanada": "Canada Post",
    "lasership": "LaserShip",
    "odfl": "Old Dominion Freight Line",
    "olddominion": "Old Dominion Freight Line",
    "gofo": "GOFO Express",
    "landmarkglobal": "Landmark Global LTN",
    "speedee": "Spee-Dee Delivery",
    "speedeedelivery": "Spee-Dee Delivery",
}

# S10 (UPU) numbers end with the posting country: name the post office that issued them.
_S10_POSTS = {
    "GB": "Royal Mail",
    "US": "United States Postal Service",
    "CA": "Canada Post",
    "DE": "Deutsche Post",
    "FR": "La Poste",
    "AU": "Australia Post",
    "NL": "PostNL",
    "CN": "China Post",
    "JP": "Japan Post",
}

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _fold(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


@dataclass(frozen=True, slots=True)
class RecognisedNumber:
    """A tracking number with the carrier it belongs to, as the thread shows it."""

    carrier: str
    match: TrackingMatch


def _recognised(match: TrackingMatch) -> RecognisedNumber:
    carrier = match.carrier
    if match.format == "S10":
        carrier = _S10_POSTS.get(match.number[-2:], "International post (S10)")
    return RecognisedNumber(carrier, match)


def _names(found: RecognisedNumber) -> set[str]:
    return {_fold(found.carrier), _fold(found.match.carrier)}


def check_tracking(payload: ShippingUpdateCreate) -> RecognisedNumber:
    """The carrier and format of a tracking number, checked by format and check digit.

    Some numbers fit several carriers (a 12-digit FedEx and Purolator number); a carrier given
    by the seller picks among them, and must be one of them."""
    found = [_recognised(m) for m in tracking_candidates(payload.tracking_number)]
    if not found:
        raise InvalidTrackingNumber(
            "Check the number on the label: it matches no supported carrier's format and check "
            "digit."
        )
    if payload.carrier is None:
        return found[0]
    wanted = _fold(payload.carrier)
    wanted = _fold(_CARRIER_ALIASES.get(wanted, wanted))
    for candidate in found:
        if wanted in _names(candidate):
            return candidate
    carriers = sorted({candidate.carrier for candidate in found})
    raise CarrierMismatch(
        f"This number belongs to {', '.join(carriers)}, not {payload.carrier}.",
        extra={"carriers": carriers},
    )


def shipping_out(update: ShippingUpdate) -> ShippingUpdateOut:
    """The public form of a shipping update."""
    return ShippingUpdateOut.model_validate(update, from_attributes=True)


async def do_post(
    uow: UnitOfWork, conversation: Conversation, seller: User, payload: ShippingUpdateCreate
) -> tuple[ShippingUpdate, bool]:
    """Post a tracking number to the thread as the seller; True when new.

    The same number again in the conversation gives back the first update, unchanged."""
    members = await conversations_repo.participants(uow.session, conversation.id)
    me = next((p for p in members if p.user_id == seller.id), None)
    if me is None:  # get_visible guarantees membership; guards direct callers
        raise NotFound("No such conversation.")
    if me.role != ParticipantRole.SELLER.value:
        raise SellerOnly("Shipping updates come from the seller of this conversation.")
    recognised = check_tracking(payload)
    # One update per number, even when the seller's retries race.
    await conversations_repo.lock(uow.session, conversation.id)
    existing = await shipping_repo.by_number(uow.session, conversation.id, recognised.match.number)
    if existing is not None:
        return existing, False
    await conversations_service.check_may_post(uow, conversation, seller, members)
    message = await conversations_service.do_add_item(
        uow,
        conversation,
        kind=MessageKind.SHIPPING_UPDATE,
        sender=me,
        body=f"Shipping update: {recognised.carrier} {recognised.match.number}",
    )
    update = ShippingUpdate(
        conversation_id=conversation.id,
        message_id=message.id,
        posted_by=seller.id,
        carrier=recognised.carrier,
        format=recognised.match.format,
        tracking_number=recognised.match.number,
        tracking_url=recognised.match.url,
        check_digit_verified=recognised.match.checked,
        created_at=uow.now,
    )
    uow.session.add(update)
    await uow.session.flush()
    await conversations_service.do_announce(
        uow,
        conversation,
        message,
        conversations_service.message_out(message, shipping=shipping_out(update)),
        members,
        seller,
        record_details={
            "carrier": update.carrier,
            "tracking_number": update.tracking_number,
            "tracking_url": update.tracking_url,
        },
    )
    return update, True
