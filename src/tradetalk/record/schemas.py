"""What crosses the wire for edits, earlier versions and transcripts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

from tradetalk.conversations.schemas import MessageBody
from tradetalk.kit.schemas import MAX_ID, Input
from tradetalk.record.models import VersionReason

MessageIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The message's id.")]


class MessageEdit(Input):
    """The new text of a message."""

    body: MessageBody = Field(description="1 to 5,000 characters; not only whitespace.")


class VersionOut(BaseModel):
    """A text a message showed before it was replaced."""

    version: int = Field(description="0 is the text as first sent.")
    body: str
    shown_from: datetime
    replaced_at: datetime
    replaced_because: VersionReason


class VersionList(BaseModel):
    """A message's earlier texts, oldest first."""

    message_id: int
    items: list[VersionOut]
