"""The rules of disputes and support access: opening and closing disputes, parties asking for
one, grants, and support writing in a conversation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.models import User
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations import service as conversations_service
from tradetalk.conversations.models import (
    Conversation,
    Message,
    SenderRole,
)
from tradetalk.conversations.schemas import MessageCreate
from tradetalk.db import UnitOfWork
from tradetalk.disputes import repository as disputes_repo
from tradetalk.disputes.access import Access
from tradetalk.disputes.audit import log_support_action
from tradetalk.disputes.models import ActorType, Dispute, DisputeStatus, SupportGrant
from tradetalk.errors import Conflict, InvalidRequest, NotFound
from tradetalk.kit.ratelimit import per_day
from tradetalk.marketplace import repository as transactions_repo
from tradetalk.record import chain
from tradetalk.record import service as record_service
from tradetalk.record.models import EntryKind

OPENED_NOTE = (
    "A dispute was opened on this transaction. Support can now read this whole conversation, "
    "including earlier versions of edited and withdrawn messages, and may write here until the "
    "dispute is closed."
)
CLOSED_NOTE = "The dispute was closed. Support no longer has access to this conversation."


class DisputeAlreadyOpen(Conflict):
    code = "dispute_already_open"
    title = "A dispute on this transaction is already open"


class NoOpenDispute(NotFound):
    code = "no_open_dispute"
    title = "This transaction has no open dispute"


class NotATransactionConversation(InvalidRequest):
    code = "not_a_transaction_conversation"
    title = "Disputes are about transactions; this conversation has none"


class NotASupportUser(InvalidRequest):
    code = "not_a_support_user"
    title = "Only a support user can be granted access"


def dispute_data(dispute: Dispute) -> dict[str, object]:
    """A dispute as events and webhooks carry it."""
    return {
        "id": dispute.id,
        "transaction_id": dispute.transaction_id,
        "status": dispute.status,
        "reason": dispute.reason,
        "resolution": dispute.resolution,
        "opened_at": chain.canonical_time(dispute.opened_at),
        "closed_at": chain.canonical_time(dispute.closed_at) if dispute.closed_at else None,
    }


async def _record_dispute_change(
    uow: UnitOfWork, dispute: Dispute, kind: EntryKind, note: str
) -> Conversation | None:
    conversation = await conversations_repo.for_transaction(uow.session, dispute.transaction_id)
    if conversation is None:
        return None  # nothing said yet; support reads the conversation once it exists
    await conversations_service.do_post_system_item(uow, conversation, note)
    await record_service.append(uow, conversation.id, kind, dispute_data(dispute))
    uow.emit(
        kind.value,
        dispute_data(dispute),
        to=await conversations_repo.participant_ids(uow.session, conversation.id),
    )
    return conversation


async def do_open(uow: UnitOfWork, transaction_id: str, reason: str) -> Dispute:
    """Open a dispute on a transaction: support may read its conversation until it closes."""
    if await transactions_repo.get(uow.session, transaction_id) is None:
        raise NotFound("No such transaction.")
    if await disputes_repo.open_dispute(uow.session, transaction_id) is not None:
        raise DisputeAlreadyOpen()
    dispute = Dispute(
        transaction_id=transaction_id,
        open_for=transaction_id,
        status=DisputeStatus.OPEN.value,
        reason=reason,
        opened_at=uow.now,
    )
    try:
        async with uow.savepoint():
            uow.session.add(dispute)
            await uow.session.flush()
    except IntegrityError as exc:  # opened at the same moment by another request
        raise DisputeAlreadyOpen() from exc
    conversation = await _record_dispute_change(uow, dispute, EntryKind.DISPUTE_OPENED, OPENED_NOTE)
    disputes_repo.add_audit(
        uow.session,
        at=uow.now,
        actor_type=ActorType.OPERATOR,
        actor_id=None,
        action="dispute.opened",
        conversation_id=conversation.id if conversation else None,
        transaction_id=transaction_id,
        detail={"dispute_id": dispute.id, "reason": reason},
    )
    return dispute


async def do_close(uow: UnitOfWork, transaction_id: str, resolution: str | None) -> Dispute:
    """Close the open dispute of a transaction: support's access through it ends now."""
    dispute = await disputes_repo.open_dispute(uow.session, transaction_id)
    if dispute is None:
        raise NoOpenDispute()
    dispute.status = DisputeStatus.CLOSED.value
    dispute.open_for = None
    dispute.resolution = resolution
    dispute.closed_at = uow.now
    await uow.session.flush()
    conversation = await _record_dispute_change(uow, dispute, EntryKind.DISPUTE_CLOSED, CLOSED_NOTE)
    disputes_repo.add_audit(
        uow.session,
        at=uow.now,
        actor_type=ActorType.OPERATOR,
        actor_id=None,
        action="dispute.closed",
        conversation_id=conversation.id if conversation else None,
        transaction_id=transaction_id,
        detail={"dispute_id": dispute.id, "resolution": resolution},
    )
    return dispute


async def check_request(uow: UnitOfWork, access: Access, actor: User) -> str:
    """A party may ask for a dispute on their transaction when none is open; returns its id."""
    conversation = access.conversation
    if access.is_support:
        raise NotFound("No such conversation.")  # support does not ask; the operator opens
    if conversation.transaction_id is None:
        raise NotATransactionConversation()
    if await disputes_repo.open_dispute(uow.session, conversation.transaction_id) is not None:
        raise DisputeAlreadyOpen()
    await uow.ctx.limiter.hit(per_day(5), "dispute-request", actor.id, what="dispute requests")
    return conversation.transaction_id


async def do_request(
    uow: UnitOfWork, access: Access, actor: User, reason: str
) -> dict[str, object]:
    """Record a party's request for a dispute and tell the operator by webhook."""
    transaction_id = await check_request(uow, access, actor)
    conversation = access.conversation
    await conversations_repo.lock(uow.session, conversation.id)
    members = await conversations_repo.participants(uow.session, conversation.id)
    role = next(p.role for p in members if p.user_id == actor.id)
    request = {
        "transaction_id": transaction_id,
        "conversation_id": conversation.id,
        "requested_by": actor.id,
        "requested_by_role": role,
        "reason": reason,
        "requested_at": chain.canonical_time(uow.now),
    }
    entry = await record_service.append(uow, conversation.id, EntryKind.DISPUTE_REQUESTED, request)
    uow.outbox(
        "webhook",
        {"type": "dispute.requested", "data": request},
        key=f"dispute.requested:{conversation.id}:{entry.position}",
    )
    return request


async def do_grant(
    uow: UnitOfWork, conversation_id: int, user_id: str, ttl_seconds: int, reason: str | None
) -> SupportGrant:
    """Let one support user read one conversation for a limited time."""
    conversation = await uow.session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.")
    user = await users_repo.get(uow.session, user_id)
    if user is None or not user.is_support:
        raise NotASupportUser(f"User {user_id!r} is not a support user.")
    ttl = min(ttl_seconds, uow.ctx.settings.support_grant_max_seconds)
    grant = SupportGrant(
        conversation_id=conversation_id,
        user_id=user_id,
        reason=reason,
        granted_at=uow.now,
        expires_at=uow.now + timedelta(seconds=ttl),
    )
    uow.session.add(grant)
    await uow.session.flush()
    disputes_repo.add_audit(
        uow.session,
        at=uow.now,
        actor_type=ActorType.OPERATOR,
        actor_id=None,
        action="grant.created",
        conversation_id=conversation_id,
        transaction_id=conversation.transaction_id,
        detail={
            "grant_id": grant.id,
            "user_id": user_id,
            "expires_at": chain.canonical_time(grant.expires_at),
            "reason": reason,
        },
    )
    return grant


async def do_revoke(uow: UnitOfWork, conversation_id: int, user_id: str) -> int:
    """End a support user's grants on a conversation now."""
    conversation = await uow.session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.")
    revoked = await disputes_repo.revoke_grants(uow.session, conversation_id, user_id, uow.now)
    if revoked == 0:
        raise NotFound("This user has no grant in force on this conversation.")
    disputes_repo.add_audit(
        uow.session,
        at=uow.now,
        actor_type=ActorType.OPERATOR,
        actor_id=None,
        action="grant.revoked",
        conversation_id=conversation_id,
        transaction_id=conversation.transaction_id,
        detail={"user_id": user_id, "grants": revoked},
    )
    return revoked


async def do_support_send(
    uow: UnitOfWork, access: Access, actor: User, payload: MessageCreate
) -> Message:
    """Post as Support in a disputed conversation: both parties get it, the operator is told."""
    if not access.can_write:
        raise record_service.SupportAccessReadOnly()
    message = await conversations_service.do_send(
        uow, access.conversation, actor, payload, sender_role=SenderRole.SUPPORT
    )
    log_support_action(uow, access, actor, "message.sent", {"message_id": message.id})
    uow.outbox(
        "webhook",
        {
            "type": "dispute.message",
            "data": {
                "dispute_id": access.dispute.id if access.dispute else None,
                "transaction_id": access.conversation.transaction_id,
                "conversation_id": access.conversation.id,
                "message": conversations_service.message_out(message).model_dump(mode="json"),
            },
        },
        key=f"dispute.message:{message.id}",
    )
    return message
