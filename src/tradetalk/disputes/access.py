"""Who may read a conversation, and in what capacity: its participants always; a support user
only while a dispute on its transaction is open, or while an operator's grant names them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User
from tradetalk.conversations.models import Conversation, Participant
from tradetalk.disputes import repository as disputes_repo
from tradetalk.disputes.models import Dispute, SupportGrant
from tradetalk.errors import NotFound


class Capacity(enum.StrEnum):
    """Why a reader may see a conversation."""

    PARTICIPANT = "participant"
    SUPPORT = "support"


@dataclass(frozen=True, slots=True)
class Access:
    """A conversation together with the capacity its reader sees it in."""

    conversation: Conversation
    capacity: Capacity
    # What lets a support user in: the open dispute, or else the operator's grant.
    dispute: Dispute | None = None
    grant: SupportGrant | None = None

    @property
    def is_support(self) -> bool:
        """True when the reader is support, not a party."""
        return self.capacity is Capacity.SUPPORT

    @property
    def can_write(self) -> bool:
        """Parties always; support only in a dispute (a grant is for reading)."""
        return self.capacity is Capacity.PARTICIPANT or self.dispute is not None


# Built once: every request about a conversation runs it.
_CONVERSATION_AND_MEMBERSHIP = (
    select(Conversation, Participant.user_id)
    .outerjoin(
        Participant,
        and_(
            Participant.conversation_id == Conversation.id,
            Participant.user_id == bindparam("b_user_id"),
        ),
    )
    .where(Conversation.id == bindparam("b_conversation_id"))
)
# The same, holding the conversation's row lock until commit (PostgreSQL; SQLite's writers
# exclude each other anyway): a send needs that lock for its position in the thread, and taking
# it here saves the statement that would take it afterwards.
_CONVERSATION_AND_MEMBERSHIP_LOCKED = _CONVERSATION_AND_MEMBERSHIP.with_for_update(of=Conversation)


async def get_readable(
    session: AsyncSession, conversation_id: int, user: User, now: datetime, *, lock: bool = False
) -> Access:
    """The conversation and the reader's capacity; NotFound (never 403) when they may not read it.

    One query for participants, the common case; support pays two more. With `lock`, the
    conversation's row is also locked until commit, as conversations_repo.lock does."""
    params = {"b_user_id": user.id, "b_conversation_id": conversation_id}
    statement = _CONVERSATION_AND_MEMBERSHIP_LOCKED if lock else _CONVERSATION_AND_MEMBERSHIP
    row = (await session.execute(statement, params)).tuples().one_or_none()
    if row is not None:
        conversation, member = row
        if member is not None:
            return Access(conversation, Capacity.PARTICIPANT)
        if user.is_support:
            dispute = (
                await disputes_repo.open_dispute(session, conversation.transaction_id)
                if conversation.transaction_id
                else None
            )
            grant = await disputes_repo.active_grant(session, conversation.id, user.id, now)
            if dispute is not None or grant is not None:
                return Access(conversation, Capacity.SUPPORT, dispute=dispute, grant=grant)
    raise NotFound("No such conversation.")
