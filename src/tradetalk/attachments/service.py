"""The rules of attachments: what is accepted, how it is cleaned, who may use and see it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, TYPE_CHECKING

import structlog

from tradetalk.accounts.models import User
from tradetalk.attachments import images, pdf, sniff
from tradetalk.attachments import repository as attachments_repo
from tradetalk.attachments.filenames import display_name
from tradetalk.attachments.models import Attachment
from tradetalk.attachments.receiving import ReceivedFile
from tradetalk.attachments.schemas import AttachmentOut, TextScan
from tradetalk.attachments.sniff import FileKind
from tradetalk.db import UnitOfWork, unit_of_work
from tradetalk.errors import InvalidRequest
from tradetalk.kit.ratelimit import per_minute

if TYPE_CHECKING:
    from tradetalk.context import AppContext

log = structlog.get_logger("tradetalk.attachments")

# The part of a text file the contact shield reads.
TEXT_SCAN_CHARS = 100_000


class AttachmentNotAvailable(InvalidRequest):
    code = "attachment_not_available"
    title = "An attachment cannot be used"


class AttachmentContactInfoBlocked(InvalidRequest):
    code = "contact_info_blocked"
    title = "The file carries contact information"


@dataclass(slots=True)
class PreparedUpload:
    """An upload that passed every check, with its cleaned bytes already in storage."""

    storage_key: str
    thumbnail_key: str | None
    content_type: str
    size: int
    sha256: str
    filename: str
    width: int | None
    height: int | None
    thumbnail_size: int | None
    text_scan: TextScan
    flagged_findings: list[dict[str, str]]


def attachment_out(attachment: Attachment) -> AttachmentOut:
    """The public form of an attachment, with the paths of its bytes and thumbnail."""
    base = f"/v1/attachments/{attachment.id}"
    return AttachmentOut(
        id=attachment.id,
        content_type=attachment.content_type,
        size=attachment.size,
        filename=attachment.filename,
        width=attachment.width,
        height=attachment.height,
        url=base,
        thumbnail_url=f"{base}/thumbnail" if attachment.thumbnail_key else None,
        text_scan=TextScan(attachment.text_scan),
        created_at=attachment.created_at,
    )


async def check_upload_allowed(ctx: AppContext, uploader: User) -> None:
    """Raise RateLimited when the uploader sends files too fast."""
    limit = per_minute(ctx.settings.attachments_per_minute)
    await ctx.limiter.hit(limit, "upload", uploader.id, what="uploads")


def _sha256(data: bytes | IO[bytes]) -> str:
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    data.seek(0)
    digest = hashlib.sha256()
    while chunk := data.read(1024 * 1024):
        digest.update(chunk)
    data.seek(0)
    return digest.hexdigest()


def check_contact_info(ctx: AppContext, texts: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """Scan (source, text) pairs with the contact shield; raise when the policy blocks, return
    the findings to keep for review when it flags. Nothing is scanned without a shield."""
    scanner = ctx.attachments.contact_scanner
    if scanner is None:
        return []
    findings = [
        {"kind": str(finding.kind), "text": finding.text, "source": source}
        for source, text in texts
        if text.strip()
        for finding in scanner(text)
    ]
    if findings and ctx.settings.attachment_contact_policy == "block":
        where = " and ".join(sorted({f["source"].replace("_", " ") for f in findings}))
        raise AttachmentContactInfoBlocked(
            f"Contact details were found in the {where}; they cannot be shared here.",
            extra={"findings": findings},
        )
    return findings


async def prepare_upload(ctx: AppContext, received: ReceivedFile) -> PreparedUpload:
    """Decide what the file is from its content, refuse what is not accepted or unsafe,
    re-encode images without metadata, run the contact shield, then store the clean bytes.
    Runs outside any database transaction: it can take seconds."""
    settings = ctx.settings
    runtime = ctx.attachments
    head = sniff.read_head(received.file, received.size)
    kind = sniff.detect(head, complete=received.size <= len(head))
    filename = display_name(received.filename, kind)
    texts = [("file_name", filename.rsplit(".", 1)[0])]
    data: bytes | IO[bytes] = received.file
    content_type: str = kind.value
    width = height = None
    thumbnail: bytes | None = None
    text_scan = TextScan.NOT_APPLICABLE
    async with runtime.processing:
        if kind.is_image:
            clean = await asyncio.to_thread(
                images.sanitise, received.file, kind, max_pixels=settings.max_image_pixels
            )
            data, content_type, thumbnail = clean.data, clean.kind.value, clean.thumbnail
            width, height = clean.width, clean.height
            if clean.kind is not kind:  # HEIC arrives, JPEG is stored: say so in the name
                filename = display_name(filename, clean.kind)
            text_scan = TextScan.SKIPPED
            if runtime.ocr is not None:
                image_text = await runtime.ocr.read(clean.ocr_png)
                if image_text is not None:
                    texts.append(("image_text", image_text))
                    text_scan = TextScan.DONE
        elif kind is FileKind.PDF:
            await asyncio.to_thread(pdf.check, received.file)
        else:
            text = await asyncio.to_thread(
                sniff.check_text, received.file, keep_chars=TEXT_SCAN_CHARS
            )
            texts.append(("file_text", text))
            content_type = "text/plain; charset=utf-8"
    flagged = check_contact_info(ctx, texts)
    size = len(data) if isinstance(data, bytes) else received.size
    storage_key = secrets.token_hex(16)
    thumbnail_key = f"{storage_key}.thumb" if thumbnail is not None else None
    digest = await asyncio.to_thread(_sha256, data)
    await runtime.storage.put(storage_key, data, content_type)
    if thumbnail is not None and thumbnail_key is not None:
        try:
            await runtime.storage.put(thumbnail_key, thumbnail, "image/webp")
        except BaseException:
            await runtime.storage.delete(storage_key)
            raise
    return PreparedUpload(
        storage_key=storage_key,
        thumbnail_key=thumbnail_key,
        content_type=content_type,
        size=size,
        sha256=digest,
        filename=filename,
        width=width,
        height=height,
        thumbnail_size=len(thumbnail) if thumbnail is not None else None,
        text_scan=text_scan,
        flagged_findings=flagged,
    )


async def do_record(uow: UnitOfWork, uploader: User, prepared: PreparedUpload) -> Attachment:
    """Record a stored upload as the uploader's, unclaimed until a message takes it."""
    attachment = Attachment(
        id=secrets.token_urlsafe(16),
        uploader_id=uploader.id,
        message_id=None,
        conversation_id=None,
        position=0,
        content_type=prepared.content_type,
        size=prepared.size,
        sha256=prepared.sha256,
        filename=prepared.filename,
        width=prepared.width,
        height=prepared.height,
        storage_key=prepared.storage_key,
        thumbnail_key=prepared.thumbnail_key,
        thumbnail_size=prepared.thumbnail_size,
        text_scan=prepared.text_scan,
        flagged_findings=json.dumps(prepared.flagged_findings)
        if prepared.flagged_findings
        else None,
        created_at=uow.now,
    )
    uow.session.add(attachment)
    await uow.session.flush()
    if prepared.flagged_findings:
        log.info("attachment flagged", attachment_id=attachment.id, uploader_id=uploader.id)
    return attachment


async def discard(ctx: AppContext, prepared: PreparedUpload) -> None:
    """Remove the stored bytes of an upload that was not recorded."""
    await ctx.attachments.storage.delete(prepared.storage_key)
    if prepared.thumbnail_key is not None:
        await ctx.attachments.storage.delete(prepared.thumbnail_key)


async def do_claim(
    uow: UnitOfWork,
    sender: User,
    *,
    message_id: int,
    conversation_id: int,
    attachment_ids: Sequence[str],
) -> list[Attachment]:
    """Attach the sender's own unclaimed uploads to a new message; raise (rolling the send
    back) when any is missing, someone else's or already used, without saying which."""
    claimed = await attachments_repo.claim(
        uow.session,
        attachment_ids,
        uploader_id=sender.id,
        message_id=message_id,
        conversation_id=conversation_id,
    )
    if len(claimed) != len(attachment_ids):
        raise AttachmentNotAvailable(
            "An attachment does not exist, is not yours or was already sent; upload it again."
        )
    return claimed


async def purge_unclaimed(ctx: AppContext, older_than: timedelta) -> int:
    """Delete uploads that no message claimed within `older_than`, rows and bytes; returns
    how many went. Rows go first (committed), then bytes: a crash in between leaves orphan
    bytes, never a row pointing at nothing."""
    purged = 0
    while True:
        async with unit_of_work(ctx) as uow:
            keys = await attachments_repo.delete_unclaimed_batch(uow.session, uow.now - older_than)
        for key, thumbnail_key in keys:
            for storage_key in (key, thumbnail_key):
                if storage_key is None:
                    continue
                try:
                    await ctx.attachments.storage.delete(storage_key)
                except Exception:
                    log.exception("deleting attachment bytes failed", storage_key=storage_key)
        purged += len(keys)
        if len(keys) < attachments_repo.PURGE_BATCH:
            break
    if purged:
        log.info("purged unclaimed attachments", count=purged)
    return purged
