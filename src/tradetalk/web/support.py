"""The support console (support users only): the moderation queue, users' records and the
records of disputed conversations.

Transport only, on the moderation API's own services and repositories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.schemas import UserIdPath
from tradetalk.context import AppContext
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations import service as conversations_service
from tradetalk.conversations.schemas import ConversationIdPath
from tradetalk.deps import Ctx, ReadSession, UoW
from tradetalk.disputes.access import get_readable
from tradetalk.disputes.audit import log_support_read
from tradetalk.errors import NotFound
from tradetalk.protection import repository as protection_repo
from tradetalk.protection import service as protection_service
from tradetalk.protection.schemas import RestrictCreate
from tradetalk.record import repository as record_repo
from tradetalk.record.api import TranscriptFormat, get_transcript
from tradetalk.web import repository as web_repo
from tradetalk.web.pages import PageRoute, Reader, Visitor, Writer, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a flagged text: plain, or a finding of some kind."""

    text: str
    kind: str | None


def segments(text: str, findings: list[dict[str, Any]]) -> list[Segment]:
    """The text cut at its findings, for highlighting (overlapping or stray spans skipped)."""
    pieces: list[Segment] = []
    at = 0
    for finding in sorted(findings, key=lambda f: (int(f.get("start", 0)), int(f.get("end", 0)))):
        start, end = int(finding.get("start", 0)), int(finding.get("end", 0))
        if start < at or end <= start or end > len(text):
            continue
        if start > at:
            pieces.append(Segment(text[at:start], None))
        pieces.append(Segment(text[start:end], str(finding.get("kind", "contact"))))
        at = end
    if at < len(text):
        pieces.append(Segment(text[at:], None))
    return pieces


def _support_only(visitor: Visitor) -> None:
    if not visitor.user.is_support:
        raise NotFound("Not found.")


async def _names(session: AsyncSession, user_ids: list[str]) -> dict[str, str]:
    users = await users_repo.get_many(session, user_ids)
    return {uid: user.display_name for uid, user in users.items()}


@router.get("/support", response_class=HTMLResponse)
async def queue(request: Request, visitor: Reader, session: ReadSession) -> HTMLResponse:
    """The pending moderation items, oldest first, with the findings highlighted."""
    _support_only(visitor)
    items = await protection_repo.queue(session, status="pending", after_id=None, limit=100)
    rows = [
        (item, segments(item.original_text or "", json.loads(item.findings or "[]")))
        for item in items
    ]
    return render(
        request,
        "support_queue.html",
        {
            "me": visitor.user,
            "csrf": visitor.session.csrf,
            "rows": rows,
            "names": await _names(session, [item.subject_id for item in items]),
            "disputes": await web_repo.open_disputes(session),
            "section": "support",
        },
    )


@router.post("/support/items/{item_id}/{action}", response_model=None)
async def resolve(
    item_id: int,
    action: str,
    visitor: Writer,
    uow: UoW,
    note: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    """Dismiss (a false alarm: the strike is withdrawn) or confirm a queue item."""
    _support_only(visitor)
    if action == "dismiss":
        await protection_service.do_dismiss(uow, item_id, visitor.user.id, note or None)
    elif action == "confirm":
        await protection_service.do_confirm(uow, item_id, visitor.user.id, note or None)
    else:
        raise NotFound("Not found.")
    return RedirectResponse("/support", status_code=303)


@router.get("/support/users/{user_id}", response_class=HTMLResponse)
async def user_record(
    user_id: UserIdPath, request: Request, visitor: Reader, session: ReadSession
) -> HTMLResponse:
    """A user's strikes, pauses and restrictions, and what moderators did about them."""
    _support_only(visitor)
    subject = await users_repo.get(session, user_id)
    if subject is None:
        raise NotFound("No such user.")
    return await _record_page(request, visitor, session, subject.id, subject.display_name)


async def _record_page(
    request: Request,
    visitor: Visitor,
    session: AsyncSession,
    user_id: str,
    name: str,
    *,
    error: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "support_user.html",
        {
            "me": visitor.user,
            "csrf": visitor.session.csrf,
            "subject_id": user_id,
            "subject_name": name,
            "strikes": await protection_repo.strikes_of(session, user_id),
            "restrictions": await protection_repo.restrictions_of(session, user_id),
            "actions": await protection_repo.actions_about(session, user_id),
            "error": error,
            "section": "support",
        },
        status_code=422 if error else 200,
    )


@router.post("/support/users/{user_id}/{action}", response_model=None)
async def restrict_or_lift(
    user_id: UserIdPath,
    action: str,
    request: Request,
    visitor: Writer,
    uow: UoW,
    reason: Annotated[str, Form(max_length=500)] = "",
    hours: Annotated[str, Form(max_length=6)] = "",
) -> Response:
    """Restrict a user's messaging (for some hours, or until lifted), or lift it all."""
    _support_only(visitor)
    try:
        if action == "restrict":
            payload = RestrictCreate(reason=reason, hours=int(hours) if hours.strip() else None)
            await protection_service.do_restrict(
                uow, user_id, visitor.user.id, payload.reason, payload.hours
            )
        elif action == "lift":
            await protection_service.do_lift(uow, user_id, visitor.user.id, reason or None)
        else:
            raise NotFound("Not found.")
    except (ValidationError, ValueError):
        subject = await users_repo.get(uow.session, user_id)
        if subject is None:
            raise NotFound("No such user.") from None
        return await _record_page(
            request,
            visitor,
            uow.session,
            subject.id,
            subject.display_name,
            error="Give a reason, and the hours as a whole number (or leave them empty).",
        )
    return RedirectResponse(f"/support/users/{user_id}", status_code=303)


async def support_record_page(
    request: Request,
    visitor: Visitor,
    session: AsyncSession,
    ctx: AppContext,
    conversation_id: int,
    *,
    draft: str = "",
    refusal: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The whole record of a conversation for support, with the composer while they may write
    in it (an open dispute); the read is audited as in the API."""
    _support_only(visitor)
    now = ctx.clock.now()
    access = await get_readable(session, conversation_id, visitor.user, now)
    await log_support_read(ctx, access, visitor.user, "conversation.read", {"via": "web"})
    view = await conversations_repo.view(session, access.conversation, visitor.user.id)
    rows = await conversations_repo.page_messages(
        session, conversation_id, before_seq=None, limit=1000
    )
    rows.reverse()
    originals = await record_repo.last_texts(session, [m.id for m in rows if m.withdrawn])
    items = [
        item.model_copy(update={"original_body": originals[item.id]})
        if item.id in originals
        else item
        for item in await conversations_service.messages_out(session, rows, now)
    ]
    return render(
        request,
        "support_record.html",
        {
            "me": visitor.user,
            "csrf": visitor.session.csrf,
            "conversation_id": conversation_id,
            "transaction": view.transaction,
            "dispute": access.dispute,
            "can_write": access.can_write,
            "items": items,
            "names": {m.user_id: m.display_name for m in view.members},
            "seen_id": None,
            "draft": draft,
            "refusal": refusal,
            "section": "support",
        },
        status_code=status_code,
    )


@router.get("/support/conversations/{conversation_id}", response_class=HTMLResponse)
async def dispute_record(
    conversation_id: ConversationIdPath,
    request: Request,
    visitor: Reader,
    session: ReadSession,
    ctx: Ctx,
) -> HTMLResponse:
    """The whole thread of a conversation in dispute (or under a grant), withdrawn texts
    included; in a dispute, support writes in it from here."""
    return await support_record_page(request, visitor, session, ctx, conversation_id)


@router.get("/support/conversations/{conversation_id}/transcript", response_model=None)
async def transcript(
    conversation_id: ConversationIdPath,
    visitor: Reader,
    session: ReadSession,
    ctx: Ctx,
    format: TranscriptFormat = TranscriptFormat.PDF,
) -> Response:
    """The transcript export (PDF for people, JSON with the hash chain), as the API makes it."""
    _support_only(visitor)
    return await get_transcript(conversation_id, visitor.user, session, ctx, format)
