"""The thread's other actions on the pages (transport only): editing and withdrawing one's own
messages, shipping updates, asking for a dispute, the transcript, email preferences, and
Support writing in a disputed conversation.

Each calls the same service as its API endpoint; a refusal is explained on the page it came
from, with whatever the visitor typed kept."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.schemas import UserIdPath
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations import service as conversations_service
from tradetalk.conversations.schemas import ConversationIdPath, MessageCreate
from tradetalk.deps import Ctx, ReadSession, UoW
from tradetalk.disputes import service as disputes_service
from tradetalk.disputes.access import get_readable
from tradetalk.errors import DomainError, NotFound
from tradetalk.marketplace.schemas import TransactionIdPath
from tradetalk.notifications import service as notifications_service
from tradetalk.notifications.models import EmailMode
from tradetalk.protection import repository as protection_repo
from tradetalk.protection import service as protection_service
from tradetalk.record import repository as record_repo
from tradetalk.record import service as record_service
from tradetalk.record.api import TranscriptFormat, get_transcript
from tradetalk.record.schemas import MessageIdPath
from tradetalk.shipping import service as shipping_service
from tradetalk.shipping.schemas import ShippingUpdateCreate
from tradetalk.web.pages import PageRoute, Reader, Writer, render, thread_page
from tradetalk.web.support import support_record_page

router = APIRouter(include_in_schema=False, route_class=PageRoute)

EMAIL_MODES = [
    (EmailMode.IMMEDIATELY, "Right away", "An email for each message you have not read."),
    (
        EmailMode.BATCHED,
        "A few minutes later, batched",
        "One email with everything still unread after a short wait.",
    ),
    (EmailMode.DAILY_DIGEST, "Once a day", "A daily summary of what is still unread."),
    (EmailMode.OFF, "Never", "No email about messages; you will see them here."),
]


def _explain(exc: DomainError | ValidationError) -> str:
    if isinstance(exc, DomainError):
        return exc.detail or exc.title
    return "Check what you entered and try again."


def _back_to(conversation_id: int, anchor: str = "") -> Response:
    return RedirectResponse(f"/inbox/{conversation_id}{anchor}", status_code=303)


@router.post("/inbox/{conversation_id}/messages/{message_id}/edit", response_model=None)
async def edit_message(
    conversation_id: ConversationIdPath,
    message_id: MessageIdPath,
    request: Request,
    visitor: Writer,
    uow: UoW,
    body: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Change the text of one's own message within the edit window."""
    access = await get_readable(uow.session, conversation_id, visitor.user, uow.now)
    try:
        text = MessageCreate(body=body).body
        await record_service.do_edit(uow, access, visitor.user, message_id, text)
    except (DomainError, ValidationError) as exc:
        # A blocked edit still commits its strike, as in the API: answering normally commits.
        return await thread_page(
            request, uow, visitor, conversation_id, refusal=_explain(exc), status_code=422
        )
    return _back_to(conversation_id, f"#m{message_id}")


@router.post("/inbox/{conversation_id}/messages/{message_id}/withdraw", response_model=None)
async def withdraw_message(
    conversation_id: ConversationIdPath,
    message_id: MessageIdPath,
    request: Request,
    visitor: Writer,
    uow: UoW,
) -> Response:
    """Withdraw one's own message: the other side sees a tombstone; the record keeps the text."""
    access = await get_readable(uow.session, conversation_id, visitor.user, uow.now)
    try:
        await record_service.do_withdraw(uow, access, visitor.user, message_id)
    except DomainError as exc:
        return await thread_page(
            request, uow, visitor, conversation_id, refusal=_explain(exc), status_code=409
        )
    return _back_to(conversation_id, f"#m{message_id}")


@router.post("/inbox/{conversation_id}/shipping", response_model=None)
async def post_shipping_update(
    conversation_id: ConversationIdPath,
    request: Request,
    visitor: Writer,
    uow: UoW,
    tracking_number: Annotated[str, Form(max_length=100)] = "",
    carrier: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The seller posts a tracking number; the carrier is recognised when not chosen."""
    access = await get_readable(uow.session, conversation_id, visitor.user, uow.now)
    try:
        payload = ShippingUpdateCreate(
            tracking_number=tracking_number, carrier=carrier.strip() or None
        )
        await shipping_service.do_post(uow, access.conversation, visitor.user, payload)
    except (DomainError, ValidationError) as exc:
        return await thread_page(
            request, uow, visitor, conversation_id, refusal=_explain(exc), status_code=422
        )
    return _back_to(conversation_id)


@router.post("/inbox/{conversation_id}/dispute-request", response_model=None)
async def request_dispute(
    conversation_id: ConversationIdPath,
    request: Request,
    visitor: Writer,
    uow: UoW,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A party asks the marketplace to step in; the operator is told by webhook."""
    access = await get_readable(uow.session, conversation_id, visitor.user, uow.now)
    if not reason.strip():
        return await thread_page(
            request,
            uow,
            visitor,
            conversation_id,
            refusal="Say in a few words what went wrong, so support can help.",
            status_code=422,
        )
    try:
        await disputes_service.do_request(uow, access, visitor.user, reason.strip())
    except DomainError as exc:
        return await thread_page(
            request, uow, visitor, conversation_id, refusal=_explain(exc), status_code=409
        )
    return await thread_page(
        request,
        uow,
        visitor,
        conversation_id,
        notice="Your request was sent to the marketplace's support team. "
        "They will look at this conversation and reply here.",
    )


@router.get("/inbox/{conversation_id}/transcript", response_model=None)
async def transcript(
    conversation_id: ConversationIdPath,
    visitor: Reader,
    session: ReadSession,
    ctx: Ctx,
    format: TranscriptFormat = TranscriptFormat.PDF,
) -> Response:
    """The conversation's transcript for a party: PDF, or JSON with the hash chain."""
    return await get_transcript(conversation_id, visitor.user, session, ctx, format)


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(
    request: Request, visitor: Reader, session: ReadSession, saved: bool = False
) -> HTMLResponse:
    """The visitor's email preferences."""
    mode = await notifications_service.email_mode_of(session, visitor.user.id)
    return render(
        request,
        "settings.html",
        {
            "me": visitor.user,
            "csrf": visitor.session.csrf,
            "modes": EMAIL_MODES,
            "mode": mode,
            "saved": saved,
            "section": "settings",
        },
    )


@router.post("/settings/email", response_model=None)
async def save_email_mode(
    visitor: Writer, uow: UoW, mode: Annotated[EmailMode, Form()]
) -> Response:
    """Choose how (and whether) unread messages are emailed."""
    await notifications_service.do_set_email_mode(uow, visitor.user.id, mode)
    return RedirectResponse("/settings?saved=true", status_code=303)


@router.post("/support/conversations/{conversation_id}/messages", response_model=None)
async def support_send(
    conversation_id: ConversationIdPath,
    request: Request,
    visitor: Writer,
    uow: UoW,
    body: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Support writes in a conversation under an open dispute; both parties see it as Support."""
    if not visitor.user.is_support:
        raise NotFound("Not found.")
    access = await get_readable(uow.session, conversation_id, visitor.user, uow.now)
    try:
        payload = MessageCreate(body=body)
        if access.is_support:
            await disputes_service.do_support_send(uow, access, visitor.user, payload)
        else:  # a support user who is also a party writes as themselves
            await conversations_service.do_send(uow, access.conversation, visitor.user, payload)
    except (DomainError, ValidationError) as exc:
        return await support_record_page(
            request,
            visitor,
            uow.session,
            uow.ctx,
            conversation_id,
            draft=body,
            refusal=_explain(exc),
            status_code=422,
        )
    return RedirectResponse(f"/support/conversations/{conversation_id}#composer", 303)


# --- entry points the marketplace links to ("Contact the seller", "Message this seller") ------


@router.get("/inbox/transactions/{transaction_id}", response_model=None)
async def transaction_thread(
    transaction_id: TransactionIdPath, visitor: Writer, uow: UoW
) -> Response:
    """Open the conversation of an order the visitor is buyer or seller of (made on first use,
    as in the API), so the marketplace's order page can link straight to it."""
    conversation = await conversations_service.do_open_for_transaction(
        uow, transaction_id, visitor.user
    )
    return _back_to(conversation.id)


@router.get("/inbox/with/{user_id}", response_class=HTMLResponse)
async def direct_page(
    user_id: UserIdPath, request: Request, visitor: Reader, session: ReadSession, ctx: Ctx
) -> Response:
    """Ask before starting a direct conversation with a user (or open the pair's existing one):
    starting one counts against the visitor's daily allowance, so a link alone never does."""
    existing = await conversations_repo.direct_between(
        session, conversations_service.direct_key(visitor.user.id, user_id)
    )
    if existing is not None:
        return _back_to(existing.id)
    other = await users_repo.get(session, user_id)
    if other is None or other.id == visitor.user.id or not ctx.settings.direct_messages:
        raise NotFound("Not found.")
    return render(
        request,
        "start_direct.html",
        {"me": visitor.user, "csrf": visitor.session.csrf, "other": other},
    )


@router.post("/inbox/with/{user_id}", response_model=None)
async def start_direct(
    user_id: UserIdPath, request: Request, visitor: Writer, uow: UoW
) -> Response:
    """Start (or open) the direct conversation with a user, where the operator allows it."""
    try:
        conversation, _ = await conversations_service.do_start_direct(uow, visitor.user, user_id)
    except NotFound:
        raise
    except DomainError as exc:
        other = await users_repo.get(uow.session, user_id)
        return render(
            request,
            "start_direct.html",
            {
                "me": visitor.user,
                "csrf": visitor.session.csrf,
                "other": other,
                "refusal": _explain(exc),
            },
            status_code=exc.status,
        )
    return _back_to(conversation.id)


# --- reporting and blocking ----------------------------------------------------------------


@router.post("/inbox/{conversation_id}/messages/{message_id}/report", response_model=None)
async def report_message(
    conversation_id: ConversationIdPath,
    message_id: MessageIdPath,
    request: Request,
    visitor: Writer,
    uow: UoW,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Report the other side's message to the moderators."""
    if not reason.strip():
        return await thread_page(
            request,
            uow,
            visitor,
            conversation_id,
            refusal="Say in a few words what is wrong with the message.",
            status_code=422,
        )
    try:
        await protection_service.do_report_message(uow, visitor.user, message_id, reason.strip())
    except NotFound:
        raise
    except DomainError as exc:
        return await thread_page(
            request, uow, visitor, conversation_id, refusal=_explain(exc), status_code=exc.status
        )
    return await thread_page(
        request,
        uow,
        visitor,
        conversation_id,
        notice="Thank you: the message was reported to the moderators.",
    )


@router.post("/inbox/{conversation_id}/block", response_model=None)
async def block_other(
    conversation_id: ConversationIdPath,
    visitor: Writer,
    uow: UoW,
    unblock: Annotated[bool, Form()] = False,
) -> Response:
    """Block (or unblock) the other person of a direct conversation: no more direct messages
    between the two. Conversations about orders stay open."""
    conversation = await conversations_repo.get_visible(
        uow.session, conversation_id, visitor.user.id
    )
    others = [
        uid
        for uid in await conversations_repo.participant_ids(uow.session, conversation.id)
        if uid != visitor.user.id
    ]
    for other in others:
        if unblock:
            await protection_repo.remove_block(uow.session, visitor.user.id, other)
        else:
            await protection_service.do_block(uow, visitor.user, other)
    return _back_to(conversation_id)


# --- the feed and the record ------------------------------------------------------------------


@router.post("/dashboard/notifications/seen", response_model=None)
async def mark_feed_seen(visitor: Writer, uow: UoW) -> Response:
    """Mark every item of the dashboard's feed seen."""
    await notifications_service.do_mark_seen(uow, visitor.user, None)
    return RedirectResponse("/dashboard#feed-title", status_code=303)


@router.get("/inbox/{conversation_id}/messages/{message_id}/versions", response_class=HTMLResponse)
async def message_versions(
    conversation_id: ConversationIdPath,
    message_id: MessageIdPath,
    request: Request,
    visitor: Reader,
    session: ReadSession,
    ctx: Ctx,
) -> HTMLResponse:
    """The earlier texts of an edited message, as the API lists them for a party (a withdrawn
    message's texts stay with support)."""
    conversation = await conversations_repo.get_visible(session, conversation_id, visitor.user.id)
    message = await conversations_repo.message_in(session, conversation.id, message_id)
    if message is None:
        raise NotFound("No such message.")
    versions = [] if message.withdrawn else await record_repo.versions(session, message_id)
    return render(
        request,
        "versions.html",
        {
            "me": visitor.user,
            "csrf": visitor.session.csrf,
            "conversation_id": conversation.id,
            "message": message,
            "versions": versions,
        },
    )
