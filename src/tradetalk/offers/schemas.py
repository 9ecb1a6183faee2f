"""What crosses the wire for offers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
)

from tradetalk.kit.schemas import (
    MAX_ID,
    PLAIN_TEXT_NOT_BLANK,
    Input,
    refuse_control_characters,
    text_only,
)
from tradetalk.offers.machine import OfferStatus, effective_status
from tradetalk.offers.models import Offer
from tradetalk.offers.money import MAX_AMOUNT_MINOR, PAYABLE_CURRENCIES, check_currency

MAX_QUANTITY = 10_000

OfferIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The offer's id.")]

AmountMinor = Annotated[int, Field(strict=True, ge=1, le=MAX_AMOUNT_MINOR)]
CurrencyCode = Annotated[
    str,
    StringConstraints(strict=True, min_length=3, max_length=3),
    AfterValidator(check_currency),
    Field(json_schema_extra={"enum": list(PAYABLE_CURRENCIES)}),
]
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]
# Control characters other than tab and line breaks are refused, as in message bodies.
OfferNote = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=1000, pattern=PLAIN_TEXT_NOT_BLANK
    ),
    BeforeValidator(refuse_control_characters),
]


class OfferCreate(Input):
    """A new offer, or a counteroffer to an open one."""

    amount_minor: AmountMinor = Field(
        description="The total price in the currency's minor units (cents): 1 to 10^12."
    )
    currency: CurrencyCode = Field(description="ISO 4217 code, upper case: `USD`, `EUR`, `JPY`.")
    quantity: Quantity = Field(default=1, description="How many items: 1 to 10,000.")
    expires_at: Annotated[AwareDatetime, BeforeValidator(text_only)] | None = Field(
        default=None,
        strict=False,  # parsed from its ISO 8601 text (text_only: not from a number)
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
