"""Client API of the record: editing and withdrawing messages, earlier versions, transcripts."""

from __future__ import annotations

import asyncio
import enum
import json
from typing import Annotated

from fastapi import APIRouter, Query, Response

from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations.schemas import ConversationIdPath, MessageOut
from tradetalk.deps import Ctx, CurrentReader, CurrentUser, ReadSession, UoW
from tradetalk.disputes.access import get_readable
from tradetalk.disputes.audit import log_support_read
from tradetalk.errors import NotFound
from tradetalk.kit.schemas import problems
from tradetalk.record import chain, pdf, transcript
from tradetalk.record import repository as record_repo
from tradetalk.record import service as record_service
from tradetalk.record.schemas import MessageEdit, MessageIdPath, VersionList, VersionOut

router = APIRouter(prefix="/v1", tags=["client: the record"])


@router.patch(
    "/conversations/{conversation_id}/messages/{message_id}",
    response_model=MessageOut,
    responses=problems(401, 403, 404, 409, 422, 429),
)
async def edit_message(
    conversation_id: ConversationIdPath,
    message_id: MessageIdPath,
    payload: MessageEdit,
    actor: CurrentUser,
    uow: UoW,
) -> MessageOut:
    """Change the text of your own message within the edit window
    (`TRADETALK_EDIT_WINDOW_SECONDS`, default 15 minutes; after it `edit_window_closed`).
    The earlier text stays on the record and the message shows it was edited."""
    access = await get_readable(uow.session, conversation_id, actor, uow.now)
    message = await record_service.do_edit(uow, access, actor, message_id, payload.body)
    return MessageOut.model_validate(message, from_attributes=True)


@router.delete(
    "/conversations/{conversation_id}/messages/{message_id}",
    response_model=MessageOut,
    responses=problems(401, 403, 404, 409, 422),
)
async def withdraw_message(
    conversation_id: ConversationIdPath,
    message_id: MessageIdPath,
    actor: CurrentUser,
    uow: UoW,
) -> MessageOut:
    """Withdraw your own message: the parties see a tombstone (`withdrawn: true`, empty body);
    the original stays on the record, where support in a dispute can read it."""
    access = await get_readable(uow.session, conversation_id, actor, uow.now)
    message = await record_service.do_withdraw(uow, access, actor, message_id)
    return MessageOut.model_validate(message, from_attributes=True)


@router.get(
    "/conversations/{conversation_id}/messages/{message_id}/versions",
    response_model=VersionList,
    responses=problems(401, 404, 422),
)
async def message_versions(
    conversation_id: ConversationIdPath,
    message_id: MessageIdPath,
    actor: CurrentReader,
    session: ReadSession,
    ctx: Ctx,
) -> VersionList:
    """Earlier texts of an edited message, oldest first. Parties do not see the texts of a
    withdrawn message; support in a dispute does."""
    access = await get_readable(session, conversation_id, actor, ctx.clock.now())
    message = await conversations_repo.message_in(session, conversation_id, message_id)
    if message is None:
        raise NotFound("No such message.")
    await log_support_read(ctx, access, actor, "message.versions.read", {"message_id": message_id})
    versions = await record_repo.versions(session, message_id)
    if message.withdrawn and not access.is_support:
        versions = []
    return VersionList(
        message_id=message_id,
        items=[VersionOut.model_validate(v, from_attributes=True) for v in versions],
    )


class TranscriptFormat(enum.StrEnum):
    """What a transcript is delivered as."""

    JSON = "json"
    PDF = "pdf"


@router.get(
    "/conversations/{conversation_id}/transcript",
    responses={
        200: {
            "description": "The transcript: JSON (with the hash chain) or PDF.",
            "content": {"application/json": {}, "application/pdf": {}},
        },
        **problems(401, 404, 422),
    },
)
async def get_transcript(
    conversation_id: ConversationIdPath,
    actor: CurrentReader,
    session: ReadSession,
    ctx: Ctx,
    format: Annotated[TranscriptFormat, Query(description="`json` or `pdf`.")] = (
        TranscriptFormat.JSON
    ),
) -> Response:
    """The conversation's record, for its parties and for support in a dispute (audited).

    The JSON carries the hash chain and verifies with `tradetalk verify-transcript FILE`; the PDF
    is for people and shows the same items and final hash."""
    now = ctx.clock.now()
    access = await get_readable(session, conversation_id, actor, now)
    await log_support_read(ctx, access, actor, "transcript.read", {"format": format.value})
    document = await transcript.build(
        session, access, actor, now, chain.seal_key(ctx.settings.secret_bytes())
    )
    filename = f"conversation-{conversation_id}-transcript"
    if format is TranscriptFormat.PDF:
        return Response(
            await asyncio.to_thread(pdf.render, document),  # CPU-bound: off the event loop
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'},
        )
    return Response(
        json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}.json"'},
    )
