"""What crosses the wire for transactions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from tradetalk.accounts.schemas import USER_ID_PATTERN, UserId
from tradetalk.kit.schemas import (
    PLAIN_TEXT_NOT_BLANK,
    REFUSE_CONTROLS,
    Input,
)
from tradetalk.marketplace.models import TransactionStatus

TransactionIdPath = Annotated[
    str,
    Path(pattern=USER_ID_PATTERN, description="The operator's own id for the transaction."),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
AmountMinor = Annotated[int, Field(ge=0, le=10**12)]


class TransactionUpsert(Input):
    """The operator's description of a transaction."""

    model_config = ConfigDict(
        # What _check says about the price, for the OpenAPI document: both or neither.
        json_schema_extra={
            "anyOf": [
                {"properties": {"amount_minor": {"type": "null"}, "currency": {"type": "null"}}},
                {
                    "required": ["amount_minor", "currency"],
                    "properties": {
                        "amount_minor": {"type": "integer"},
                        "currency": {"type": "string"},
                    },
                },
            ]
        },
    )

    buyer_id: UserId
    seller_id: UserId
    title: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=200, pattern=PLAIN_TEXT_NOT_BLANK
        ),
        REFUSE_CONTROLS,
    ]
    # Strict models take enums as members; JSON brings their values.
    status: TransactionStatus = Field(strict=False)
    amount_minor: AmountMinor | None = None
    currency: Currency | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.buyer_id == self.seller_id:
            raise ValueError("buyer_id and seller_id must be different users")
        if (self.amount_minor is None) != (self.currency is None):
            raise ValueError("amount_minor and currency go together")
        return self


class TransactionOut(BaseModel):
    """A transaction as the APIs show it."""

    id: str
    buyer_id: str
    seller_id: str
    title: str
    status: TransactionStatus
    amount_minor: int | None
    currency: str | None
    created_at: datetime
    updated_at: datetime
