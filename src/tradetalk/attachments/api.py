"""Client API for attachments: upload a file, fetch it and its thumbnail (a user token)."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User
from tradetalk.attachments import repository as attachments_repo
from tradetalk.attachments import service as attachments_service
from tradetalk.attachments.filenames import content_disposition
from tradetalk.attachments.models import Attachment
from tradetalk.attachments.receiving import receive_file
from tradetalk.attachments.schemas import AttachmentIdPath, AttachmentOut
from tradetalk.attachments.storage import ObjectMissing
from tradetalk.context import AppContext
from tradetalk.db import unit_of_work
from tradetalk.deps import Ctx, CurrentReader, ReadSession, UploadingUser
from tradetalk.disputes.access import get_readable
from tradetalk.disputes.audit import log_support_read
from tradetalk.errors import NotFound
from tradetalk.kit.schemas import problems

log = structlog.get_logger("tradetalk.attachments")

router = APIRouter(prefix="/v1", tags=["client: attachments"])

# Shown inline: images only. Documents (PDF, text) are always downloaded, never rendered in
# the app's origin.
_INLINE = ("image/jpeg", "image/png", "image/webp", "image/gif")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "sandbox",
    "Cross-Origin-Resource-Policy": "same-site",
    "Referrer-Policy": "no-referrer",
    # The URL carries no credential and the bytes never change; shared caches stay out.
    "Cache-Control": "private, max-age=86400",
}

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "/attachments",
    response_model=AttachmentOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 413, 415, 422, 429),
    openapi_extra=_UPLOAD_BODY,
)
async def upload_attachment(request: Request, actor: UploadingUser, ctx: Ctx) -> AttachmentOut:
    """Upload a photo, receipt or proof of shipment (multipart field `file`).

    Accepted by content, whatever the name says: JPEG, PNG, WebP, still GIF, HEIC (stored as
    JPEG), PDF without active content, UTF-8 plain text. Images are re-encoded without any
    metadata (no location). The upload is the caller's until a message claims it
    (`attachment_ids`); unclaimed uploads are deleted after a day."""
    await attachments_service.check_upload_allowed(ctx, actor)
    received = await receive_file(request, max_bytes=ctx.settings.max_attachment_bytes)
    try:
        prepared = await attachments_service.prepare_upload(ctx, received)
    finally:
        received.close()
    # A short transaction of its own: no database connection or lock is held while the body
    # streams in or the image is processed.
    try:
        async with unit_of_work(ctx) as uow:
            attachment = await attachments_service.do_record(uow, actor, prepared)
    except BaseException:
        await attachments_service.discard(ctx, prepared)
        raise
    return attachments_service.attachment_out(attachment)


async def _bytes_response(
    ctx: Ctx, key: str, *, content_type: str, size: int, disposition: str
) -> StreamingResponse:
    try:
        chunks = await ctx.attachments.storage.open(key)
    except ObjectMissing:
        log.error("attachment bytes missing from storage", storage_key=key)
        raise NotFound("This attachment is no longer available.") from None
    return StreamingResponse(
        chunks,
        media_type=content_type,
        headers={
            **_SECURITY_HEADERS,
            "Content-Length": str(size),
            "Content-Disposition": disposition,
        },
    )


_BINARY = {"schema": {"type": "string", "format": "binary"}}
# What uploads are stored as: images re-encoded, PDFs and plain text as sent.
_STORED_TYPES = (*_INLINE, "application/pdf", "text/plain")
_BYTES: dict[int | str, dict[str, Any]] = {
    200: {"content": dict.fromkeys(_STORED_TYPES, _BINARY), "description": "The file."}
}
_THUMBNAIL: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/webp": _BINARY}, "description": "A small WebP preview."}
}


@router.get(
    "/attachments/{attachment_id}",
    response_class=StreamingResponse,
    responses={**_BYTES, **problems(401, 404, 422)},
)
async def download_attachment(
    attachment_id: AttachmentIdPath, actor: CurrentReader, session: ReadSession, ctx: Ctx
) -> StreamingResponse:
    """The file: for its uploader before it is sent, for the conversation's participants after.
    Images are shown inline; documents are downloaded."""
    attachment = await _readable(session, ctx, attachment_id, actor)
    inline = attachment.content_type in _INLINE
    return await _bytes_response(
        ctx,
        attachment.storage_key,
        content_type=attachment.content_type,
        size=attachment.size,
        disposition=content_disposition(attachment.filename, inline=inline),
    )


async def _readable(
    session: AsyncSession, ctx: AppContext, attachment_id: str, actor: User
) -> Attachment:
    """The attachment for its uploader or the conversation's members; for support, while a
    dispute (or a grant) lets them read the conversation, each read audited. 404 otherwise."""
    try:
        return await attachments_repo.get_visible(session, attachment_id, actor.id)
    except NotFound:
        if not actor.is_support:
            raise
    attachment = await attachments_repo.get_claimed(session, attachment_id)
    if attachment is None or attachment.conversation_id is None:
        raise NotFound("No such attachment.")
    access = await get_readable(session, attachment.conversation_id, actor, ctx.clock.now())
    await log_support_read(ctx, access, actor, "attachment.read", {"attachment_id": attachment.id})
    return attachment


@router.get(
    "/attachments/{attachment_id}/thumbnail",
    response_class=StreamingResponse,
    responses={**_THUMBNAIL, **problems(401, 404, 422)},
)
async def attachment_thumbnail(
    attachment_id: AttachmentIdPath, actor: CurrentReader, session: ReadSession, ctx: Ctx
) -> StreamingResponse:
    """A small WebP of an image attachment, for the inbox (404 for documents)."""
    attachment = await _readable(session, ctx, attachment_id, actor)
    if attachment.thumbnail_key is None or attachment.thumbnail_size is None:
        raise NotFound("This attachment has no thumbnail.")
    stem = attachment.filename.rsplit(".", 1)[0]
    return await _bytes_response(
        ctx,
        attachment.thumbnail_key,
        content_type="image/webp",
        size=attachment.thumbnail_size,
        disposition=content_disposition(f"{stem}-thumbnail.webp", inline=True),
    )
