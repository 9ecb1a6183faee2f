"""Putting support work on the audit log."""

from __future__ import annotations

from typing import Any

from tradetalk.accounts.models import User
from tradetalk.context import AppContext
from tradetalk.db import UnitOfWork, unit_of_work
from tradetalk.disputes import repository as disputes_repo
from tradetalk.disputes.access import Access
from tradetalk.disputes.models import ActorType


def _basis(access: Access) -> dict[str, Any]:
    if access.dispute is not None:
        return {"via": "dispute", "dispute_id": access.dispute.id}
    if access.grant is not None:
        return {"via": "grant", "grant_id": access.grant.id}
    return {}


def log_support_action(
    uow: UnitOfWork, access: Access, actor: User, action: str, detail: dict[str, Any]
) -> None:
    """Record a support action in the transaction that performs it (nothing for parties)."""
    if not access.is_support:
        return
    disputes_repo.add_audit(
        uow.session,
        at=uow.now,
        actor_type=ActorType.SUPPORT,
        actor_id=actor.id,
        action=action,
        conversation_id=access.conversation.id,
        transaction_id=access.conversation.transaction_id,
        detail={**_basis(access), **detail},
    )


async def log_support_read(
    ctx: AppContext, access: Access, actor: User, action: str, detail: dict[str, Any]
) -> None:
    """Record a support read, committed before its data leaves (nothing for parties).

    Reads run in read-only sessions, so the entry gets its own short write transaction; if it
    cannot be written the read fails rather than go unrecorded."""
    if not access.is_support:
        return
    async with unit_of_work(ctx) as uow:
        log_support_action(uow, access, actor, action, detail)
