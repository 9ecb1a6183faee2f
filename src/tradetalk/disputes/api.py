"""Disputes, support grants and the audit log: server endpoints, and a party's dispute request."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, status

from tradetalk.accounts.schemas import UserIdPath
from tradetalk.conversations.schemas import ConversationIdPath
from tradetalk.deps import Ctx, CurrentUser, ReadSession, ServerKey, UoW
from tradetalk.disputes import repository as disputes_repo
from tradetalk.disputes import service as disputes_service
from tradetalk.disputes.access import get_readable
from tradetalk.disputes.models import AuditEntry
from tradetalk.disputes.schemas import (
    AuditEntryOut,
    AuditPage,
    DisputeClose,
    DisputeOpen,
    DisputeOut,
    DisputeRequestCreate,
    DisputeRequestOut,
    SupportGrantCreate,
    SupportGrantList,
    SupportGrantOut,
)
from tradetalk.errors import NotFound
from tradetalk.kit.pagination import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor, split_page
from tradetalk.kit.schemas import MAX_ID, problems
from tradetalk.marketplace.schemas import TransactionIdPath

server = APIRouter(prefix="/v1", tags=["server: disputes"], dependencies=[ServerKey])
client = APIRouter(prefix="/v1", tags=["client: disputes"])


@server.post(
    "/transactions/{transaction_id}/dispute",
    response_model=DisputeOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 404, 409, 422),
)
async def open_dispute(
    transaction_id: TransactionIdPath, payload: DisputeOpen, uow: UoW
) -> DisputeOut:
    """Open a dispute: support users may read and write in the transaction's conversation until
    it is closed (`dispute_already_open` if one is open)."""
    dispute = await disputes_service.do_open(uow, transaction_id, payload.reason)
    return DisputeOut.model_validate(dispute, from_attributes=True)


@server.delete(
    "/transactions/{transaction_id}/dispute",
    response_model=DisputeOut,
    responses=problems(401, 404, 422),
)
async def close_dispute(
    transaction_id: TransactionIdPath, uow: UoW, payload: DisputeClose | None = None
) -> DisputeOut:
    """Close the open dispute (`no_open_dispute` if none): support's access through it ends."""
    dispute = await disputes_service.do_close(
        uow, transaction_id, payload.resolution if payload else None
    )
    return DisputeOut.model_validate(dispute, from_attributes=True)


@server.get(
    "/transactions/{transaction_id}/dispute",
    response_model=DisputeOut,
    responses=problems(401, 404, 422),
)
async def get_dispute(transaction_id: TransactionIdPath, session: ReadSession) -> DisputeOut:
    """The transaction's most recent dispute, open or closed."""
    dispute = await disputes_repo.latest_dispute(session, transaction_id)
    if dispute is None:
        raise NotFound("This transaction has never been disputed.")
    return DisputeOut.model_validate(dispute, from_attributes=True)


@server.post(
    "/conversations/{conversation_id}/support-grants",
    response_model=SupportGrantOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 404, 422),
)
async def grant_support_access(
    conversation_id: ConversationIdPath, payload: SupportGrantCreate, uow: UoW
) -> SupportGrantOut:
    """Let a named support user read this conversation for `ttl_seconds` (read only: writing as
    Support needs an open dispute)."""
    grant = await disputes_service.do_grant(
        uow, conversation_id, payload.user_id, payload.ttl_seconds, payload.reason
    )
    return SupportGrantOut.model_validate(grant, from_attributes=True)


@server.get(
    "/conversations/{conversation_id}/support-grants",
    response_model=SupportGrantList,
    responses=problems(401, 422),
)
async def list_support_grants(
    conversation_id: ConversationIdPath, session: ReadSession, ctx: Ctx
) -> SupportGrantList:
    """The grants on this conversation still in force."""
    grants = await disputes_repo.active_grants(session, conversation_id, ctx.clock.now())
    return SupportGrantList(
        items=[SupportGrantOut.model_validate(g, from_attributes=True) for g in grants]
    )


@server.delete(
    "/conversations/{conversation_id}/support-grants/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 404, 422),
)
async def revoke_support_access(
    conversation_id: ConversationIdPath, user_id: UserIdPath, uow: UoW
) -> None:
    """End a support user's grants on this conversation now."""
    await disputes_service.do_revoke(uow, conversation_id, user_id)


def _audit_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        at=entry.at,
        actor_type=entry.actor_type,
        actor_id=entry.actor_id,
        action=entry.action,
        conversation_id=entry.conversation_id,
        transaction_id=entry.transaction_id,
        detail=json.loads(entry.detail),
    )


@server.get("/audit-log", response_model=AuditPage, responses=problems(401, 422))
async def audit_log(
    session: ReadSession,
    conversation_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditPage:
    """Every support read and action and every operator action on the record, newest first."""
    before_id = decode_cursor(cursor, int)[0] if cursor else None
    rows = await disputes_repo.audit_page(
        session,
        conversation_id=conversation_id,
        actor_id=actor_id,
        before_id=before_id,
        limit=limit,
    )
    page, more = split_page(rows, limit)
    return AuditPage(
        items=[_audit_out(e) for e in page],
        next_cursor=encode_cursor(page[-1].id) if more else None,
    )


@client.post(
    "/conversations/{conversation_id}/dispute-requests",
    response_model=DisputeRequestOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(401, 404, 409, 422, 429),
)
async def request_dispute(
    conversation_id: ConversationIdPath,
    payload: DisputeRequestCreate,
    actor: CurrentUser,
    uow: UoW,
) -> DisputeRequestOut:
    """Ask the operator to open a dispute on this conversation's transaction (they get a
    `dispute.requested` webhook; the request is on the record)."""
    access = await get_readable(uow.session, conversation_id, actor, uow.now)
    request = await disputes_service.do_request(uow, access, actor, payload.reason)
    return DisputeRequestOut.model_validate(request)
