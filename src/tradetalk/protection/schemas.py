"""What crosses the wire for the shield and moderation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from tradetalk.accounts.schemas import UserId
from tradetalk.conversations.schemas import MessageBody, MessageId
from tradetalk.kit.schemas import (
    MAX_ID,
    PLAIN_TEXT,
    PLAIN_TEXT_NOT_BLANK,
    REFUSE_CONTROLS,
    Input,
)

Reason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=500, pattern=PLAIN_TEXT_NOT_BLANK
    ),
    REFUSE_CONTROLS,
]


class FindingOut(BaseModel):
    """One piece of contact information found in a text."""

    kind: str
    start: int
    end: int
    text: str
    rule: str


class ShieldCheck(Input):
    """A draft to check before sending (the composer's live warning)."""

    body: MessageBody
    conversation_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class ShieldCheckOut(BaseModel):
    """What would happen if the draft were sent now."""

    action: str | None = Field(description="block, mask, flag, or null when the text is clean.")
    findings: list[FindingOut]
    text_for_recipient: str
    explanation: str | None


class ModerationItemOut(BaseModel):
    """A queue item, with the original text moderators need."""

    id: int
    kind: str
    status: str
    subject_id: str
    conversation_id: int | None
    message_id: int | None
    original_text: str | None
    findings: list[FindingOut]
    reporter_id: str | None
    reason: str | None
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class ModerationPage(BaseModel):
    """The moderation queue, oldest first."""

    items: list[ModerationItemOut]
    next_cursor: str | None


class ResolutionNote(Input):
    """An optional note on a moderation action."""

    note: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=500, pattern=PLAIN_TEXT),
            REFUSE_CONTROLS,
        ]
        | None
    ) = None


class RestrictCreate(Input):
    """Restrict a user; without `hours` the restriction lasts until lifted."""

    reason: Reason
    hours: int | None = Field(default=None, ge=1, le=24 * 365)


class StrikeOut(BaseModel):
    """A strike on a user's record."""

    id: int
    item_id: int | None
    reason: str
    created_at: datetime
    dismissed_at: datetime | None
    dismissed_by: str | None


class RestrictionOut(BaseModel):
    """A pause or restriction, current or past."""

    id: int
    kind: str
    reason: str
    created_by: str
    created_at: datetime
    ends_at: datetime | None
    lifted_at: datetime | None
    lifted_by: str | None
    active: bool


class ModerationActionOut(BaseModel):
    """One entry of the moderation audit trail."""

    id: int
    actor: str
    action: str
    subject_id: str | None
    item_id: int | None
    detail: str | None
    created_at: datetime


class UserRecordOut(BaseModel):
    """A user's standing: active strikes, restrictions and the audit trail about them."""

    user_id: str
    active_strikes: int
    strikes: list[StrikeOut]
    restrictions: list[RestrictionOut]
    actions: list[ModerationActionOut]


class ReportCreate(Input):
    """Report a message (of a conversation the reporter is in) or a user."""

    model_config = ConfigDict(
        # What _one_subject checks, for the OpenAPI document.
        json_schema_extra={
            "oneOf": [
                {"required": ["message_id"], "properties": {"message_id": {"type": "integer"}}},
                {"required": ["user_id"], "properties": {"user_id": {"type": "string"}}},
            ]
        },
    )

    message_id: MessageId | None = None
    user_id: UserId | None = None
    reason: Reason

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.message_id is None) == (self.user_id is None):
            raise ValueError("report either a message_id or a user_id")
        return self


class ReportOut(BaseModel):
    """A report as its author sees it."""

    id: int
    status: str
    created_at: datetime


class BlockCreate(Input):
    """Stop a user from sending you direct messages."""

    user_id: UserId


class BlockOut(BaseModel):
    """A user you have blocked."""

    user_id: str
    created_at: datetime
