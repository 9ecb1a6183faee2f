"""What crosses the wire for attachments."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field, StringConstraints

ATTACHMENT_ID_PATTERN = r"^[A-Za-z0-9_-]{22}$"
MAX_ATTACHMENTS_PER_MESSAGE = 10

AttachmentId = Annotated[str, StringConstraints(pattern=ATTACHMENT_ID_PATTERN)]
AttachmentIdPath = Annotated[
    str, Path(pattern=ATTACHMENT_ID_PATTERN, description="The attachment's id.")
]


class TextScan(enum.StrEnum):
    """Whether text in an image was read and checked for contact details."""

    DONE = "done"
    SKIPPED = "skipped"  # the server has no OCR engine (tesseract)
    NOT_APPLICABLE = "not_applicable"  # not an image


class AttachmentOut(BaseModel):
    """An uploaded file, as its uploader and the conversation's participants see it."""

    id: str = Field(description="Random and unguessable; also the path of its bytes.")
    content_type: str = Field(description="Decided from the content, never from the name.")
    size: int = Field(description="Bytes, as stored (images are re-encoded).")
    filename: str = Field(description="The sanitised name the uploader gave it.")
    width: int | None = None
    height: int | None = None
    url: str = Field(description="Path of the bytes, relative to the API's base URL.")
    thumbnail_url: str | None = Field(
        default=None, description="Path of a small WebP, for images; null for documents."
    )
    text_scan: TextScan = Field(
        description="Whether text in the image was read for contact details "
        "(`skipped` where the server has no OCR engine)."
    )
    created_at: datetime
