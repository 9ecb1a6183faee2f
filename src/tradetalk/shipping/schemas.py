"""What crosses the wire for shipping updates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from tradetalk.kit.schemas import (
    PLAIN_TEXT_NOT_BLANK,
    REFUSE_CONTROLS,
    Input,
)


class ShippingUpdateCreate(Input):
    """A tracking number from the seller; the carrier is recognised when not given."""

    carrier: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, min_length=1, max_length=64, pattern=PLAIN_TEXT_NOT_BLANK
            ),
            REFUSE_CONTROLS,
        ]
        | None
    ) = Field(
        default=None,
        description="`UPS`, `USPS`, `FedEx`, `DHL`, `Royal Mail`...; must agree with the number.",
    )
    tracking_number: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=80, pattern=PLAIN_TEXT_NOT_BLANK
        ),
        REFUSE_CONTROLS,
    ] = Field(description="As printed on the label; spaces are ignored.")


class ShippingUpdateOut(BaseModel):
    """A shipping update as the thread shows it."""

    id: int
    conversation_id: int
    message_id: int
    posted_by: str
    carrier: str
    format: str = Field(description="The carrier's number format that matched.")
    tracking_number: str = Field(description="Without spaces, upper case.")
    tracking_url: str | None = Field(description="The carrier's tracking page for this number.")
    check_digit_verified: bool
    created_at: datetime
