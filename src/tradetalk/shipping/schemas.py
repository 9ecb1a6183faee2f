"""What crosses the wire for shipping updates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class ShippingUpdateCreate(BaseModel):
    """A tracking number from the seller; the carrier is recognised when not given."""

    model_config = ConfigDict(extra="forbid")

    carrier: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = Field(
        default=None,
        description="`UPS`, `USPS`, `FedEx`, `DHL`, `Royal Mail`...; must agree with the number.",
    )
    tracking_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)
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
