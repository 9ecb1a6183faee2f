"""Client API for conversations and messages (a user token)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Scope

from tradetalk.accounts import service as accounts_service
from tradetalk.accounts.models import User
from tradetalk.context import AppContext
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations import service as conversations_service
from tradetalk.conversations.models import ConversationKind
from tradetalk.conversations.repository import ConversationView
from tradetalk.conversations.schemas import (
    ConversationIdPath,
    ConversationOut,
    ConversationPage,
    DirectConversationCreate,
    MessageCreate,
    MessageOut,
    MessagePage,
    ParticipantOut,
    ReadMarkCreate,
    ReadStateOut,
    SearchHit,
    SearchPage,
    SearchQuery,
    TransactionSummary,
)
from tradetalk.conversations.service import message_out, messages_out
from tradetalk.db import UnitOfWork, unit_of_work
from tradetalk.deps import Ctx, CurrentReader, CurrentUser, ReadSession, UoW, token_claims
from tradetalk.disputes import service as disputes_service
from tradetalk.disputes.access import Access, access_to, get_readable, lock_with_caller
from tradetalk.disputes.audit import log_support_read
from tradetalk.kit.direct_route import DirectRoute
from tradetalk.kit.pagination import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor, split_page
from tradetalk.kit.schemas import MAX_ID, problems
from tradetalk.marketplace.schemas import TransactionIdPath
from tradetalk.record import repository as record_repo

router = APIRouter(prefix="/v1", tags=["client: conversations"])

Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]


def conversation_out(
    view: ConversationView, last_message: MessageOut | None = None
) -> ConversationOut:
    """The public form of a conversation for its viewer (`last_message` with its details)."""
    if last_message is None and view.last_message is not None:
        last_message = message_out(view.last_message)
    conversation, transaction = view.conversation, view.transaction
    return ConversationOut(
        id=conversation.id,
        kind=ConversationKind(conversation.kind),
        transaction_id=conversation.transaction_id,
        transaction=TransactionSummary(**transaction._asdict()) if transaction else None,
        participants=[
            ParticipantOut(user_id=m.user_id, display_name=m.display_name, role=m.role)
            for m in view.members
        ],
        unread_count=view.unread_count,
        last_message=last_message,
        last_read_message_id=view.me.last_read_message_id,
        last_activity_at=view.me.last_activity_at,
        created_at=conversation.created_at,
    )


async def _conversations_out(
    session: AsyncSession, views: list[ConversationView], now: datetime
) -> list[ConversationOut]:
    """Conversations with their last items' offers and shipping updates, loaded at once."""
    lasts = await messages_out(session, [v.last_message for v in views if v.last_message], now)
    by_conversation = {m.conversation_id: m for m in lasts}
    return [conversation_out(v, by_conversation.get(v.conversation.id)) for v in views]


@router.get(
    "/transactions/{transaction_id}/conversation",
    response_model=ConversationOut,
    responses=problems(401, 404, 422),
)
async def transaction_conversation(
    transaction_id: TransactionIdPath, actor: CurrentUser, uow: UoW
) -> ConversationOut:
    """The conversation of a transaction the caller is buyer or seller of (made on first use)."""
    conversation = await conversations_service.do_open_for_transaction(uow, transaction_id, actor)
    view = await conversations_repo.view(uow.session, conversation, actor.id)
    return (await _conversations_out(uow.session, [view], uow.now))[0]


@router.post(
    "/conversations",
    response_model=ConversationOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ConversationOut, "description": "The pair's existing conversation."},
        **problems(401, 403, 404, 422, 429),
    },
)
async def start_direct_conversation(
    payload: DirectConversationCreate, actor: CurrentUser, uow: UoW, response: Response
) -> ConversationOut:
    """Start a direct conversation with a user (201), or get the pair's existing one (200).

    Only where the operator enables direct messages (`TRADETALK_DIRECT_MESSAGES`)."""
    conversation, created = await conversations_service.do_start_direct(uow, actor, payload.user_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    view = await conversations_repo.view(uow.session, conversation, actor.id)
    return (await _conversations_out(uow.session, [view], uow.now))[0]


@router.get("/conversations", response_model=ConversationPage, responses=problems(401, 422))
async def list_conversations(
    actor: CurrentReader,
    session: ReadSession,
    ctx: Ctx,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ConversationPage:
    """The caller's inbox: conversations with messages, most recent activity first."""
    after = decode_cursor(cursor, datetime, int) if cursor else None
    rows = await conversations_repo.inbox(
        session, actor.id, after=(after[0], after[1]) if after else None, limit=limit
    )
    page, more = split_page(rows, limit)
    next_cursor = None
    if more and page[-1].me.last_activity_at is not None:
        last = page[-1]
        next_cursor = encode_cursor(last.me.last_activity_at, last.conversation.id)  # type: ignore[arg-type]
    items = await _conversations_out(session, page, ctx.clock.now())
    return ConversationPage(items=items, next_cursor=next_cursor)


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationOut,
    responses=problems(401, 404, 422),
)
async def get_conversation(
    conversation_id: ConversationIdPath, actor: CurrentReader, session: ReadSession, ctx: Ctx
) -> ConversationOut:
    """One conversation the caller takes part in (or, as support, may read in a dispute)."""
    access = await get_readable(session, conversation_id, actor, ctx.clock.now())
    await log_support_read(ctx, access, actor, "conversation.read", {})
    view = await conversations_repo.view(session, access.conversation, actor.id)
    return (await _conversations_out(session, [view], ctx.clock.now()))[0]


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=MessagePage,
    responses=problems(401, 404, 422),
)
async def list_messages(
    conversation_id: ConversationIdPath,
    actor: CurrentReader,
    session: ReadSession,
    ctx: Ctx,
    limit: Limit = DEFAULT_LIMIT,
    before: Cursor = None,
) -> MessagePage:
    """A page of the thread, newest first; `before` is the previous page's `next_cursor`.

    Support in a dispute also gets the `original_body` of withdrawn messages."""
    access = await get_readable(session, conversation_id, actor, ctx.clock.now())
    before_seq = decode_cursor(before, int)[0] if before else None
    await log_support_read(
        ctx, access, actor, "messages.read", {"before_seq": before_seq, "limit": limit}
    )
    rows = await conversations_repo.page_messages(
        session, conversation_id, before_seq=before_seq, limit=limit
    )
    page, more = split_page(rows, limit)
    originals = (
        await record_repo.last_texts(session, [m.id for m in page if m.withdrawn])
        if access.is_support
        else {}
    )
    return MessagePage(
        items=[
            item.model_copy(update={"original_body": originals[item.id]})
            if item.id in originals
            else item
            for item in await messages_out(session, page, ctx.clock.now())
        ],
        next_cursor=encode_cursor(page[-1].seq) if more else None,
    )


async def _send(
    uow: UnitOfWork, actor: User, conversation_id: int, payload: MessageCreate
) -> MessageOut:
    # Locked at once: the send needs the conversation's lock, and one statement does both.
    access = await get_readable(uow.session, conversation_id, actor, uow.now, lock=True)
    return await _send_with(uow, actor, access, payload)


async def _send_with(
    uow: UnitOfWork, actor: User, access: Access, payload: MessageCreate
) -> MessageOut:
    if access.is_support:
        message = await disputes_service.do_support_send(uow, access, actor, payload)
    else:
        message = await conversations_service.do_send(
            uow, access.conversation, actor, payload, locked=True, members=access.members
        )
    if not payload.attachment_ids:
        return message_out(message)  # a text message has no details to load
    return (await messages_out(uow.session, [message], uow.now))[0]


_DECIMAL_ID = re.compile(r"[1-9][0-9]{0,15}")


class _SendRoute(DirectRoute):
    """The send, served directly when well formed (kit/direct_route.py says why and how)."""

    body_model = MessageCreate

    def parse_path(self, values: Mapping[str, Any]) -> int | None:
        raw = values.get("conversation_id")
        if not isinstance(raw, str) or not _DECIMAL_ID.fullmatch(raw) or int(raw) > MAX_ID:
            return None
        return int(raw)

    async def serve(
        self,
        scope: Scope,
        path: int,
        credentials: HTTPAuthorizationCredentials,
        payload: MessageCreate,
    ) -> MessageOut:
        ctx: AppContext = scope["app"].state.ctx
        claims = token_claims(ctx, credentials)  # as the CurrentUser dependency checks it
        async with unit_of_work(ctx) as uow:  # as the UoW dependency opens it
            # The caller's row comes with the conversation's lock: a round trip saved.
            found = await lock_with_caller(uow.session, path, claims.user_id)
            if found is None:  # an unknown user or conversation (or SQLite): the usual way
                actor = await accounts_service.user_of_claims(uow.session, claims)
                return await _send(uow, actor, path, payload)
            user, conversation = found
            actor = accounts_service.check_token_user(user, claims)
            access = await access_to(uow.session, conversation, actor, uow.now)
            return await _send_with(uow, actor, access, payload)


async def send_message(
    conversation_id: ConversationIdPath, payload: MessageCreate, actor: CurrentUser, uow: UoW
) -> MessageOut:
    """Send a message: text, up to 10 uploaded attachments, or both (a photo needs no
    caption). The same `client_message_id` again returns the same message.

    Contact details are handled per the operator's policy: refused with 422
    `contact_info_blocked` (and its `findings`), delivered masked, or delivered and flagged.
    403 `messaging_paused` / `messaging_restricted` when the sender's privileges are limited.
    Support in an open dispute posts as Support (`sender_role: "support"`); both parties get it."""
    return await _send(uow, actor, conversation_id, payload)


# The send has a router of its own, which the app includes before every other: a request
# reaches its route only after FastAPI has tried the routes before it (each included router's
# routes, twice over: 80-110 µs for a send behind four routers here, a few % of its CPU).
# The path is the send's alone (other methods on it go on to `router`), so going first shadows
# nothing.
send_router = APIRouter(prefix="/v1", tags=["client: conversations"])
send_router.add_api_route(
    "/conversations/{conversation_id}/messages",
    send_message,
    methods=["POST"],
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 422, 429),
    route_class_override=_SendRoute,
)


@router.post(
    "/conversations/{conversation_id}/read",
    response_model=ReadStateOut,
    responses=problems(401, 404, 422),
)
async def mark_read(
    conversation_id: ConversationIdPath, payload: ReadMarkCreate, actor: CurrentUser, uow: UoW
) -> ReadStateOut:
    """Mark the thread read up to and including a message."""
    conversation = await conversations_repo.get_visible(uow.session, conversation_id, actor.id)
    me = await conversations_service.do_mark_read(uow, conversation, actor, payload.message_id)
    unread = await conversations_repo.unread_count(
        uow.session, conversation.id, actor.id, me.last_read_seq
    )
    return ReadStateOut(
        conversation_id=conversation.id,
        last_read_message_id=me.last_read_message_id,
        unread_count=unread,
    )


@router.get("/search", response_model=SearchPage, responses=problems(401, 422))
async def search_messages(
    q: Annotated[SearchQuery, Query(description="Words to find; the last one may be a prefix.")],
    actor: CurrentReader,
    session: ReadSession,
    ctx: Ctx,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> SearchPage:
    """Full-text search over the caller's own conversations, newest first."""
    terms = conversations_repo.search_terms(q)
    if not terms:
        return SearchPage(items=[], next_cursor=None)
    before_id = decode_cursor(cursor, int)[0] if cursor else None
    rows = await conversations_repo.search(
        session, actor.id, terms, before_id=before_id, limit=limit
    )
    page, more = split_page(rows, limit)
    return SearchPage(
        items=[
            SearchHit.model_validate(m, from_attributes=True)
            for m in await messages_out(session, page, ctx.clock.now())
        ],
        next_cursor=encode_cursor(page[-1].id) if more else None,
    )
