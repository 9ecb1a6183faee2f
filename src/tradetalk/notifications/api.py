"""HTTP endpoints of notifications: the feed, preferences, unsubscribe, response figures,
inbound email, the webhook delivery log and the demo mailbox."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from email.message import EmailMessage
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse

from tradetalk.accounts.schemas import UserIdPath
from tradetalk.deps import Ctx, CurrentReader, CurrentUser, ReadSession, ServerKey, UoW
from tradetalk.errors import DomainError, InvalidRequest, NotFound
from tradetalk.kit.pagination import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor, split_page
from tradetalk.kit.ratelimit import per_minute
from tradetalk.kit.schemas import problems
from tradetalk.notifications import repository as notifications_repo
from tradetalk.notifications import service as notifications_service
from tradetalk.notifications import webhooks
from tradetalk.notifications.inbound import queue_inbound
from tradetalk.notifications.models import DeliveryStatus
from tradetalk.notifications.schemas import (
    DeliveryIdPath,
    InboundAccepted,
    MarkSeen,
    NotificationPage,
    NotificationPreferences,
    Redelivery,
    ResponseStatsOut,
    UnreadCount,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
)
from tradetalk.notifications.templates import render_page

client_router = APIRouter(prefix="/v1", tags=["client: notifications"])
public_router = APIRouter(prefix="/v1", tags=["public"])
server_router = APIRouter(prefix="/v1", tags=["server: notifications"], dependencies=[ServerKey])
demo_router = APIRouter(prefix="/demo", include_in_schema=False)

Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "The request body is too large"


class EmptyEmail(InvalidRequest):
    code = "empty_email"
    title = "The request body holds no email"


# --- the feed and preferences (a user token) -----------------------------------------------


@client_router.get("/notifications", response_model=NotificationPage, responses=problems(401, 422))
async def list_notifications(
    actor: CurrentReader,
    session: ReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> NotificationPage:
    """The caller's dashboard feed: unseen items first, then newest first; with the unseen
    total for the badge."""
    after = decode_cursor(cursor, int, datetime, int) if cursor else None
    rows = await notifications_repo.feed_page(
        session,
        actor.id,
        after=(after[0], after[1], after[2]) if after else None,
        limit=limit,
    )
    page, more = split_page(rows, limit)
    last = page[-1] if page else None
    return NotificationPage(
        items=[notifications_service.notification_out(item) for item in page],
        unread=await notifications_repo.unseen_count(session, actor.id),
        next_cursor=encode_cursor(0 if last.seen_at is None else 1, last.created_at, last.id)
        if more and last
        else None,
    )


@client_router.get(
    "/notifications/unread-count", response_model=UnreadCount, responses=problems(401)
)
async def unread_notifications(actor: CurrentReader, session: ReadSession) -> UnreadCount:
    """How many feed items the caller has not seen."""
    return UnreadCount(unread=await notifications_repo.unseen_count(session, actor.id))


@client_router.post("/notifications/seen", response_model=UnreadCount, responses=problems(401, 422))
async def mark_notifications_seen(payload: MarkSeen, actor: CurrentUser, uow: UoW) -> UnreadCount:
    """Mark feed items seen (`ids`, or all when left out); returns the unseen total left."""
    unread = await notifications_service.do_mark_seen(uow, actor, payload.ids)
    return UnreadCount(unread=unread)


@client_router.get(
    "/me/notification-preferences",
    response_model=NotificationPreferences,
    responses=problems(401),
)
async def get_preferences(actor: CurrentReader, session: ReadSession) -> NotificationPreferences:
    """How the caller hears about unread messages by email."""
    mode = await notifications_service.email_mode_of(session, actor.id)
    return NotificationPreferences(email=mode)


@client_router.put(
    "/me/notification-preferences",
    response_model=NotificationPreferences,
    responses=problems(401, 422),
)
async def put_preferences(
    payload: NotificationPreferences, actor: CurrentUser, uow: UoW
) -> NotificationPreferences:
    """Choose `immediately`, `batched`, `daily_digest` or `off`."""
    mode = await notifications_service.do_set_email_mode(uow, actor.id, payload.email)
    return NotificationPreferences(email=mode)


# --- public ---------------------------------------------------------------------------------


@public_router.get(
    "/users/{user_id}/response-stats",
    response_model=ResponseStatsOut,
    responses=problems(404, 429),
)
async def response_stats(
    user_id: UserIdPath, request: Request, ctx: Ctx, session: ReadSession
) -> ResponseStatsOut:
    """A seller's first-reply figures over the last 30 days (no credential needed)."""
    client = request.client.host if request.client else "unknown"
    await ctx.limiter.hit(
        per_minute(ctx.settings.public_stats_per_minute), "stats", client, what="requests"
    )
    stats = await notifications_service.response_stats(session, user_id, ctx.clock.now())
    return ResponseStatsOut.model_validate(stats, from_attributes=True)


@public_router.get("/unsubscribe/{token}", response_class=HTMLResponse, responses=problems(404))
async def unsubscribe_page(token: str, ctx: Ctx) -> HTMLResponse:
    """The landing page of the unsubscribe link: a button, since GETs must change nothing
    (mail scanners follow links)."""
    notifications_service.check_unsubscribe_token(ctx.settings, token)
    return HTMLResponse(
        render_page("unsubscribe.html", done=False, action=f"/v1/unsubscribe/{token}")
    )


@public_router.post("/unsubscribe/{token}", response_class=HTMLResponse, responses=problems(404))
async def unsubscribe(token: str, uow: UoW) -> HTMLResponse:
    """One-click unsubscribe (RFC 8058): turns the user's notification emails off."""
    await notifications_service.do_unsubscribe(uow, token)
    return HTMLResponse(render_page("unsubscribe.html", done=True, action=""))


# --- server API -----------------------------------------------------------------------------


@server_router.post(
    "/inbound/email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=InboundAccepted,
    responses=problems(401, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def inbound_email(request: Request, ctx: Ctx, uow: UoW) -> InboundAccepted:
    """Take a reply to a notification email (raw RFC 822). It is posted in its conversation
    as its sender, or refused (and the sender told why by email); 202 once safely queued."""
    limit = ctx.settings.inbound_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Emails up to {limit} bytes are taken.")
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLarge(f"Emails up to {limit} bytes are taken.")
    if not raw.strip():
        raise EmptyEmail("Send the raw email as the request body (message/rfc822).")
    queue_inbound(uow, raw)
    return InboundAccepted()


@server_router.get(
    "/webhooks/deliveries", response_model=WebhookDeliveryPage, responses=problems(401, 422)
)
async def list_deliveries(
    session: ReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status_filter: Annotated[
        DeliveryStatus | None, Query(alias="status", description="Only deliveries in this state.")
    ] = None,
) -> WebhookDeliveryPage:
    """The webhook delivery log, newest first."""
    before = decode_cursor(cursor, int)[0] if cursor else None
    rows = await notifications_repo.deliveries_page(
        session,
        status=status_filter.value if status_filter else None,
        before_id=before,
        limit=limit,
    )
    page, more = split_page(rows, limit)
    return WebhookDeliveryPage(
        items=[WebhookDeliveryOut.model_validate(row, from_attributes=True) for row in page],
        next_cursor=encode_cursor(page[-1].id) if more and page else None,
    )


@server_router.post(
    "/webhooks/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Redelivery,
    responses=problems(401, 404, 409),
)
async def redeliver(delivery_id: DeliveryIdPath, uow: UoW) -> Redelivery:
    """Send a logged event again, with the same webhook-id and body."""
    logged = await webhooks.do_redeliver(uow, delivery_id)
    return Redelivery(delivery_id=logged.id, webhook_id=logged.webhook_id)


# --- demo mailbox ---------------------------------------------------------------------------

_EML_NAME = re.compile(r"^[\w-]{1,80}\.eml$")


def _read_eml(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@demo_router.get("/mail", response_class=HTMLResponse)
async def demo_mailbox(ctx: Ctx) -> HTMLResponse:
    """Every email written to the mail folder, newest first."""
    folder = ctx.settings.mail_dir
    files = sorted(folder.glob("*.eml"), reverse=True)[:200] if folder.is_dir() else []
    mails: list[dict[str, Any]] = []
    for path in files:
        message = _read_eml(path.read_bytes())
        mails.append(
            {
                "name": path.name,
                "date": str(message.get("Date", "")),
                "to": str(message.get("To", "")),
                "subject": str(message.get("Subject", "")),
            }
        )
    html = render_page(
        "demo_mail.html", folder=str(folder), mails=mails, selected=None, base="/demo/mail"
    )
    return HTMLResponse(html)


@demo_router.get("/mail/{name}", response_class=HTMLResponse)
async def demo_mail(name: str, ctx: Ctx) -> HTMLResponse:
    """One email of the demo mailbox, headers and text."""
    path = ctx.settings.mail_dir / name
    if not _EML_NAME.match(name) or not path.is_file():
        raise NotFound("No such email.")
    message = _read_eml(path.read_bytes())
    text_part = message.get_body(preferencelist=("plain",))
    selected = {
        "subject": str(message.get("Subject", "")),
        "headers": [(key, str(value)) for key, value in message.items()],
        "text": text_part.get_content() if text_part is not None else "",
    }
    html = render_page(
        "demo_mail.html",
        folder=str(ctx.settings.mail_dir),
        mails=[],
        selected=selected,
        base="/demo/mail",
    )
    return HTMLResponse(html)
