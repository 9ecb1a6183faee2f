"""What crosses the wire for offers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from tradetalk.offers.machine import OfferStatus, effective_status
from tradetalk.offers.models import Offer
from tradetalk.offers.money import MAX_AMOUNT_MINOR, check_currency

MAX_ID = 2**63 - 1
MAX_QUANTITY = 10_000

OfferIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The offer's id.")]

AmountMinor = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT_MINOR)]
CurrencyCode = Annotated[
    str, StringConstraints(strict=True, min_length=3, max_length=3), AfterValidator(check_currency)
]
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
# Control characters other than tab and line breaks are refused, as in message bodies.
OfferNote = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=1000,
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
    ),
]


class OfferCreate(BaseModel):
    """A new offer, or a counteroffer to an open one."""

    model_config = ConfigDict(extra="forbid")

    amount_minor: AmountMinor = Field(
        description="The total price in the currency's minor units (cents): 1 to 10^12."
    )
    currency: CurrencyCode = Field(description="ISO 4217 code, upper case: `USD`, `EUR`, `JPY`.")
    quantity: Quantity = Field(default=1, description="How many items: 1 to 10,000.")
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="When the offer lapses (with a time zone); default: "
        "`TRADETALK_OFFER_TTL_HOURS` from now.",
    )
    note: OfferNote | None = Field(
        default=None, description="Up to 1,000 characters; checked like a message."
    )


class OfferOut(BaseModel):
    """An offer as it stands now."""

    id: int
    conversation_id: int
    transaction_id: str | None
    message_id: int = Field(description="The offer's item in the thread.")
    maker_id: str
    maker_role: str
    recipient_id: str
    status: OfferStatus
    amount_minor: int
    currency: str
    quantity: int
    note: str | None
    expires_at: datetime | None
    in_reply_to: int | None = Field(description="The offer this one counters.")
    superseded_by: int | None = Field(
        description="The counteroffer, or the maker's newer offer, that took this one's place."
    )
    created_at: datetime
    closed_at: datetime | None


def offer_out(offer: Offer, now: datetime) -> OfferOut:
    """The public form of an offer as of `now` (an open offer past its expiry reads expired)."""
    out = OfferOut.model_validate(offer, from_attributes=True)
    status = effective_status(out.status, offer.expires_at, now)
    if status is not out.status:
        out.status = status
        out.closed_at = offer.expires_at
    return out
