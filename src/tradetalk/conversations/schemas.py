"""What crosses the wire for conversations and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from tradetalk.accounts.schemas import UserId
from tradetalk.attachments.schemas import MAX_ATTACHMENTS_PER_MESSAGE, AttachmentId, AttachmentOut
from tradetalk.conversations.models import ConversationKind, MessageKind, SenderRole
from tradetalk.kit.schemas import (
    MAX_ID,
    NOT_BLANK,
    PLAIN_TEXT,
    PLAIN_TEXT_NOT_BLANK,
    REFUSE_CONTROLS,
    Input,
    refuse_control_characters,
)
from tradetalk.marketplace.models import TransactionStatus
from tradetalk.offers.schemas import OfferOut
from tradetalk.shipping.schemas import ShippingUpdateOut

MAX_BODY_CHARS = 5000

ConversationIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The conversation's id.")]
MessageId = Annotated[int, Field(ge=1, le=MAX_ID)]

MessageBody = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_BODY_CHARS,
        pattern=PLAIN_TEXT_NOT_BLANK,
    ),
    BeforeValidator(refuse_control_characters),
]
# A caption: may be empty, but only on a message that carries attachments (MessageCreate).
CaptionBody = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_BODY_CHARS, pattern=PLAIN_TEXT),
    BeforeValidator(refuse_control_characters),
]
ClientMessageId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$"),
]


class MessageCreate(Input):
    """A new text message."""

    model_config = ConfigDict(
        # What _body_or_attachments checks, for the OpenAPI document.
        json_schema_extra={
            "anyOf": [
                {"required": ["body"], "properties": {"body": {"pattern": NOT_BLANK}}},
                {"required": ["attachment_ids"], "properties": {"attachment_ids": {"minItems": 1}}},
            ]
        },
    )

    body: CaptionBody = Field(
        default="",
        description="1 to 5,000 characters, not only whitespace; may be empty (a photo "
        "without a caption) only when `attachment_ids` is given.",
    )
    client_message_id: ClientMessageId | None = Field(
        default=None,
        description="The client's own id for this send; retrying with it returns the same message.",
    )
    attachment_ids: list[AttachmentId] = Field(
        default=[],
        max_length=MAX_ATTACHMENTS_PER_MESSAGE,
        json_schema_extra={"uniqueItems": True},
        description="Up to 10 of the sender's own uploads (`POST /v1/attachments`), not yet sent.",
    )

    @model_validator(mode="after")
    def _body_or_attachments(self) -> MessageCreate:
        if not self.body and not self.attachment_ids:
            raise ValueError("body must not be empty (unless attachments are sent)")
        if len(set(self.attachment_ids)) != len(self.attachment_ids):
            raise ValueError("attachment_ids must not repeat an id")
        return self


class MessageOut(BaseModel):
    """An item of a thread, as every API and event shows it."""

    id: int
    conversation_id: int
    seq: int = Field(description="Position in the conversation, increasing.")
    kind: MessageKind
    sender_id: str | None
    sender_role: SenderRole
    body: str
    client_message_id: str | None
    created_at: datetime
    offer: OfferOut | None = Field(
        default=None, description="For `kind: offer`: the offer as it stands now."
    )
    shipping: ShippingUpdateOut | None = Field(
        default=None, description="For `kind: shipping_update`: carrier, number and link."
    )
    # A factory, not `= []`: Pydantic deep-copies a mutable default for every instance.
    attachments: list[AttachmentOut] = Field(
        default_factory=list, json_schema_extra={"default": []}
    )
    edited_at: datetime | None = Field(default=None, description="When the text last changed.")
    edit_count: int = Field(default=0, description="How often the sender edited it.")
    withdrawn: bool = Field(
        default=False, description="The sender withdrew it: `body` is empty, a tombstone."
    )
    withdrawn_at: datetime | None = None
    original_body: str | None = Field(
        default=None,
        description="Support only, in a dispute: the text of a withdrawn message.",
    )


class MessagePage(BaseModel):
    """A page of a thread, newest first; pass `next_cursor` as `before` for older items."""

    items: list[MessageOut]
    next_cursor: str | None


class ReadMarkCreate(Input):
    """Mark everything up to and including this message as read."""

    message_id: MessageId


class ReadStateOut(BaseModel):
    """The caller's read marker after the change."""

    conversation_id: int
    last_read_message_id: int | None
    unread_count: int


class DirectConversationCreate(Input):
    """Start (or reopen) a direct conversation with a user, typically a seller."""

    user_id: UserId


class ParticipantOut(BaseModel):
    """A member of a conversation."""

    user_id: str
    display_name: str
    role: str


class TransactionSummary(BaseModel):
    """The transaction a conversation is about."""

    id: str
    title: str
    status: TransactionStatus
    amount_minor: int | None
    currency: str | None


class ConversationOut(BaseModel):
    """A conversation as the caller sees it."""

    id: int
    kind: ConversationKind
    transaction_id: str | None
    transaction: TransactionSummary | None
    participants: list[ParticipantOut]
    unread_count: int = Field(
        description="The other party's messages and offers after the caller's read marker."
    )
    last_message: MessageOut | None
    last_read_message_id: int | None
    last_activity_at: datetime | None
    created_at: datetime


class ConversationPage(BaseModel):
    """The inbox, most recent activity first; pass `next_cursor` as `cursor` for more."""

    items: list[ConversationOut]
    next_cursor: str | None


class SearchHit(MessageOut):
    """A message that matched a search."""


class SearchPage(BaseModel):
    """Search results, newest first; pass `next_cursor` as `cursor` for more."""

    items: list[SearchHit]
    next_cursor: str | None


SearchQuery = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=PLAIN_TEXT_NOT_BLANK
    ),
    REFUSE_CONTROLS,
]
