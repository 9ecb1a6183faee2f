"""What crosses the wire for disputes, support grants and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tradetalk.accounts.schemas import UserId
from tradetalk.disputes.models import DisputeStatus

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class DisputeOpen(BaseModel):
    """Open a dispute on a transaction."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason


class DisputeClose(BaseModel):
    """Close a transaction's open dispute."""

    model_config = ConfigDict(extra="forbid")

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


class DisputeRequestCreate(BaseModel):
    """A party asks the operator for a dispute."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason


class DisputeRequestOut(BaseModel):
    """The request as the operator's `dispute.requested` webhook carries it."""

    transaction_id: str
    conversation_id: int
    requested_by: str
    requested_by_role: str
    reason: str
    requested_at: datetime


class SupportGrantCreate(BaseModel):
    """Let a support user read one conversation for a while."""

    model_config = ConfigDict(extra="forbid")

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
