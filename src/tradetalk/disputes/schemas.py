"""What crosses the wire for disputes, support grants and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from tradetalk.accounts.schemas import UserId
from tradetalk.disputes.models import DisputeStatus
from tradetalk.kit.schemas import (
    PLAIN_TEXT_NOT_BLANK,
    REFUSE_CONTROLS,
    Input,
)

Reason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=2000, pattern=PLAIN_TEXT_NOT_BLANK
    ),
    REFUSE_CONTROLS,
]


class DisputeOpen(Input):
    """Open a dispute on a transaction."""

    reason: Reason


class DisputeClose(Input):
    """Close a transaction's open dispute."""

    resolution: Reason | None = None


class DisputeOut(BaseModel):
    """A dispute; support can read the transaction's conversation while it is open."""

    id: int
    transaction_id: str
    status: DisputeStatus
    reason: str
    resolution: str | None
    opened_at: datetime
    closed_at: datetime | None


class DisputeRequestCreate(Input):
    """A party asks the operator for a dispute."""

    reason: Reason


class DisputeRequestOut(BaseModel):
    """The request as the operator's `dispute.requested` webhook carries it."""

    transaction_id: str
    conversation_id: int
    requested_by: str
    requested_by_role: str
    reason: str
    requested_at: datetime


class SupportGrantCreate(Input):
    """Let a support user read one conversation for a while."""

    user_id: UserId
    ttl_seconds: int = Field(
        default=3600,
        ge=60,
        le=30 * 86400,
        description="How long the access lasts (capped by TRADETALK_SUPPORT_GRANT_MAX_SECONDS).",
    )
    reason: Reason | None = None


class SupportGrantOut(BaseModel):
    """A grant of read access to one conversation."""

    id: int
    conversation_id: int
    user_id: str
    reason: str | None
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class SupportGrantList(BaseModel):
    """The grants on a conversation still in force."""

    items: list[SupportGrantOut]


class AuditEntryOut(BaseModel):
    """One support read or action, or one operator action on the record."""

    id: int
    at: datetime
    actor_type: str = Field(description="`support` (a support user) or `operator` (server key).")
    actor_id: str | None
    action: str
    conversation_id: int | None
    transaction_id: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    """Audit entries, newest first; pass `next_cursor` as `cursor` for older ones."""

    items: list[AuditEntryOut]
    next_cursor: str | None
