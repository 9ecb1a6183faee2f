"""The shield's rules: screening texts, strikes and restrictions, the moderation queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import NoReturn

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.models import User
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations.models import Conversation, Message
from tradetalk.db import UnitOfWork
from tradetalk.errors import CommittedRefusal, Conflict, DomainError, Forbidden, NotFound
from tradetalk.kit.ratelimit import per_minute
from tradetalk.protection import repository as protection_repo
from tradetalk.protection.detector import Finding
from tradetalk.protection.models import (
    ItemKind,
    ItemStatus,
    ModerationAction,
    ModerationItem,
    Restriction,
    RestrictionKind,
    Strike,
    UserBlock,
)
from tradetalk.protection.policy import Action, Verdict, explain, judge

OPERATOR = "operator"
SYSTEM = "system"


class ContactInfoBlocked(CommittedRefusal, DomainError):
    status = 422
    code = "contact_info_blocked"
    title = "The message contains contact details"

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(
            explain(verdict.findings),
            extra={"findings": [asdict(f) for f in verdict.findings]},
        )


class MessagingPaused(Forbidden):
    code = "messaging_paused"
    title = "Sending is paused for this account"


class MessagingRestricted(Forbidden):
    code = "messaging_restricted"
    title = "Messaging is restricted for this account"


class BlockedByUser(Forbidden):
    code = "blocked"
    title = "This user does not accept direct messages from you"


class ItemAlreadyResolved(Conflict):
    code = "already_resolved"
    title = "This item has already been resolved"


def findings_json(findings: Sequence[Finding]) -> str:
    """Findings as stored with a queue item."""
    return json.dumps([asdict(f) for f in findings], separators=(",", ":"))


async def screen(
    uow: UnitOfWork, text: str, *, conversation_id: int | None = None, sender_id: str | None = None
) -> Verdict:
    """Scan a text (with the sender's recent messages in the conversation) and apply policy."""
    history: list[str] = []
    if conversation_id is not None and sender_id is not None:
        history = await protection_repo.recent_bodies(
            uow.session, conversation_id, sender_id, uow.ctx.settings.shield_history
        )
    return screen_in_context(uow, text, history)


def screen_plain(uow: UnitOfWork, text: str) -> Verdict:
    """Scan a text with no conversation context (names, file names)."""
    return judge(text, uow.ctx.detector.scan(text), uow.ctx.shield_policy)


async def check_may_send(uow: UnitOfWork, sender: User) -> None:
    """Raise when the sender's messaging is paused or restricted."""
    _check_unrestricted(await protection_repo.restriction_in_force(uow.session, sender.id, uow.now))


async def sender_standing(
    uow: UnitOfWork, sender: User, conversation_id: int, client_message_id: str | None = None
) -> protection_repo.SenderStanding:
    """What a send needs to know of its sender, in one round trip: a pause or restriction in
    force (`check_standing` judges it), their recent texts in this conversation (the context
    `screen_in_context` needs) and the message they stored already under `client_message_id`."""
    return await protection_repo.sender_standing(
        uow.session,
        sender.id,
        conversation_id,
        uow.now,
        uow.ctx.settings.shield_history,
        client_message_id,
    )


def check_standing(standing: protection_repo.SenderStanding) -> None:
    """Raise when the sender's messaging is paused or restricted."""
    _check_unrestricted(standing.restriction)


def screen_in_context(uow: UnitOfWork, text: str, history: Sequence[str]) -> Verdict:
    """Scan a text with the sender's recent texts in the conversation (`sender_standing`)
    and apply policy."""
    return judge(text, uow.ctx.detector.scan(text, history), uow.ctx.shield_policy)


def _check_unrestricted(restriction: protection_repo.RestrictionInForce | None) -> None:
    if restriction is None:
        return
    if restriction.kind == RestrictionKind.PAUSE.value and restriction.ends_at is not None:
        raise MessagingPaused(
            f"Sending is paused until {restriction.ends_at.isoformat()} after repeated attempts "
            "to share contact details.",
            extra={"until": restriction.ends_at.isoformat()},
        )
    raise MessagingRestricted(
        "Messaging is restricted for this account. Contact the marketplace's support."
    )


def _audit(
    uow: UnitOfWork,
    actor: str,
    action: str,
    *,
    subject_id: str | None = None,
    item_id: int | None = None,
    detail: str | None = None,
) -> None:
    uow.session.add(
        ModerationAction(
            actor=actor,
            action=action,
            subject_id=subject_id,
            item_id=item_id,
            detail=detail,
            created_at=uow.now,
        )
    )


async def do_refuse(
    uow: UnitOfWork,
    conversation: Conversation,
    sender: User,
    text: str,
    verdict: Verdict,
    client_message_id: str | None = None,
) -> NoReturn:
    """Keep a blocked attempt for review, count it as a strike, and refuse it (422).

    The attempt commits with the refusal (ContactInfoBlocked is a CommittedRefusal)."""
    await do_record_blocked(uow, conversation, sender, text, verdict, client_message_id)
    raise ContactInfoBlocked(verdict)


async def do_record_blocked(
    uow: UnitOfWork,
    conversation: Conversation,
    sender: User,
    text: str,
    verdict: Verdict,
    client_message_id: str | None,
) -> ModerationItem:
    """Keep a refused attempt for review and count it as a strike (once per client retry)."""
    if client_message_id is not None:
        earlier = await protection_repo.blocked_item_for_retry(
            uow.session, conversation.id, sender.id, client_message_id
        )
        if earlier is not None:
            return earlier
    item = ModerationItem(
        kind=ItemKind.BLOCKED.value,
        status=ItemStatus.PENDING.value,
        subject_id=sender.id,
        conversation_id=conversation.id,
        original_text=text,
        findings=findings_json(verdict.findings),
        client_message_id=client_message_id,
        created_at=uow.now,
    )
    uow.session.add(item)
    await uow.session.flush()
    await _add_strike(uow, sender.id, item, "Blocked: contact details in a message", actor=SYSTEM)
    return item


async def do_queue_delivered(
    uow: UnitOfWork, message: Message, original: str, verdict: Verdict
) -> ModerationItem:
    """Queue a masked or flagged message for review, with what the sender really wrote."""
    kind = ItemKind.MASKED if verdict.action is Action.MASK else ItemKind.FLAGGED
    item = ModerationItem(
        kind=kind.value,
        status=ItemStatus.PENDING.value,
        subject_id=message.sender_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        original_text=original,
        findings=findings_json(verdict.findings),
        client_message_id=message.client_message_id,
        created_at=uow.now,
    )
    uow.session.add(item)
    await uow.session.flush()
    return item


async def _add_strike(
    uow: UnitOfWork, user_id: str, item: ModerationItem | None, reason: str, *, actor: str
) -> None:
    uow.session.add(
        Strike(
            user_id=user_id,
            item_id=item.id if item else None,
            reason=reason,
            created_at=uow.now,
        )
    )
    _audit(uow, actor, "strike", subject_id=user_id, item_id=item.id if item else None)
    await uow.session.flush()
    await _apply_thresholds(uow, user_id)


async def _apply_thresholds(uow: UnitOfWork, user_id: str) -> None:
    """Pause or restrict automatically when strikes in the window reach the thresholds."""
    settings = uow.ctx.settings
    since = uow.now - timedelta(days=settings.strike_window_days)
    strikes = await protection_repo.count_active_strikes(uow.session, user_id, since)
    current = await protection_repo.active_restriction(uow.session, user_id, uow.now)
    if strikes >= settings.strike_restrict_threshold:
        if current is None or current.kind != RestrictionKind.RESTRICTED.value:
            await _restrict(
                uow,
                user_id,
                f"{strikes} attempts to share contact details "
                f"in {settings.strike_window_days} days",
                actor=SYSTEM,
                hours=None,
            )
    elif strikes >= settings.strike_pause_threshold and current is None:
        uow.session.add(
            Restriction(
                user_id=user_id,
                kind=RestrictionKind.PAUSE.value,
                reason=f"{strikes} attempts to share contact details",
                created_by=SYSTEM,
                created_at=uow.now,
                ends_at=uow.now + timedelta(hours=settings.strike_pause_hours),
            )
        )
        _audit(uow, SYSTEM, "pause", subject_id=user_id, detail=f"{strikes} strikes")
        await uow.session.flush()


async def _restrict(
    uow: UnitOfWork, user_id: str, reason: str, *, actor: str, hours: int | None
) -> Restriction:
    restriction = Restriction(
        user_id=user_id,
        kind=RestrictionKind.RESTRICTED.value,
        reason=reason,
        created_by=actor,
        created_at=uow.now,
        ends_at=uow.now + timedelta(hours=hours) if hours else None,
    )
    uow.session.add(restriction)
    await uow.session.flush()
    _audit(uow, actor, "restrict", subject_id=user_id, detail=reason)
    # The operator decides what a restriction means for selling (e.g. suspend listings).
    uow.outbox(
        "webhook",
        {
            "type": "user.restricted",
            "data": {
                "user_id": user_id,
                "reason": reason,
                "restricted_by": actor,
                "until": restriction.ends_at.isoformat() if restriction.ends_at else None,
            },
        },
        key=f"user.restricted:{restriction.id}",
    )
    return restriction


async def _get_item(uow: UnitOfWork, item_id: int) -> ModerationItem:
    item = await protection_repo.item(uow.session, item_id)
    if item is None:
        raise NotFound("No such moderation item.")
    return item


async def do_dismiss(uow: UnitOfWork, item_id: int, actor: str, note: str | None) -> ModerationItem:
    """Close an item as a false alarm; a strike it caused is withdrawn."""
    item = await _get_item(uow, item_id)
    if item.status == ItemStatus.DISMISSED.value:
        raise ItemAlreadyResolved()
    strike = await protection_repo.strike_for_item(uow.session, item.id)
    if strike is not None:
        strike.dismissed_at = uow.now
        strike.dismissed_by = actor
    item.status = ItemStatus.DISMISSED.value
    item.resolved_at = uow.now
    item.resolved_by = actor
    _audit(uow, actor, "dismiss", subject_id=item.subject_id, item_id=item.id, detail=note)
    await uow.session.flush()
    return item


async def do_confirm(uow: UnitOfWork, item_id: int, actor: str, note: str | None) -> ModerationItem:
    """Confirm an item as a real attempt; it becomes a strike (blocked ones already are)."""
    item = await _get_item(uow, item_id)
    if item.status != ItemStatus.PENDING.value:
        raise ItemAlreadyResolved()
    item.status = ItemStatus.CONFIRMED.value
    item.resolved_at = uow.now
    item.resolved_by = actor
    _audit(uow, actor, "confirm", subject_id=item.subject_id, item_id=item.id, detail=note)
    await uow.session.flush()
    if await protection_repo.strike_for_item(uow.session, item.id) is None:
        await _add_strike(uow, item.subject_id, item, f"Confirmed: {item.kind}", actor=actor)
    return item


async def do_restrict(
    uow: UnitOfWork, user_id: str, actor: str, reason: str, hours: int | None
) -> Restriction:
    """Restrict a user's messaging by hand (until lifted, or for some hours)."""
    if await users_repo.get(uow.session, user_id) is None:
        raise NotFound("No such user.")
    return await _restrict(uow, user_id, reason, actor=actor, hours=hours)


async def do_lift(uow: UnitOfWork, user_id: str, actor: str, note: str | None) -> int:
    """Lift every active pause and restriction of a user; returns how many."""
    if await users_repo.get(uow.session, user_id) is None:
        raise NotFound("No such user.")
    lifted = 0
    for restriction in await protection_repo.restrictions_of(uow.session, user_id):
        active = restriction.lifted_at is None and (
            restriction.ends_at is None or restriction.ends_at > uow.now
        )
        if active:
            restriction.lifted_at = uow.now
            restriction.lifted_by = actor
            lifted += 1
    _audit(uow, actor, "lift", subject_id=user_id, detail=note)
    if lifted:
        uow.outbox(
            "webhook",
            {"type": "user.restriction_lifted", "data": {"user_id": user_id, "lifted_by": actor}},
        )
    await uow.session.flush()
    return lifted


async def do_report(
    uow: UnitOfWork,
    reporter: User,
    *,
    message: Message | None,
    subject_id: str,
    reason: str,
) -> ModerationItem:
    """A user reports a message or another user; it lands in the moderation queue."""
    item = ModerationItem(
        kind=(ItemKind.REPORTED_MESSAGE if message else ItemKind.REPORTED_USER).value,
        status=ItemStatus.PENDING.value,
        subject_id=subject_id,
        conversation_id=message.conversation_id if message else None,
        message_id=message.id if message else None,
        original_text=message.body if message else None,
        findings="[]",
        reporter_id=reporter.id,
        reason=reason,
        created_at=uow.now,
    )
    uow.session.add(item)
    await uow.session.flush()
    return item


async def do_report_message(
    uow: UnitOfWork, reporter: User, message_id: int, reason: str
) -> ModerationItem:
    """A participant reports a message of one of their conversations (NotFound for any other,
    and for items nobody wrote, like system notes)."""
    await uow.ctx.limiter.hit(per_minute(10), "report", reporter.id, what="reports")
    message = await conversations_repo.message_visible_to(uow.session, message_id, reporter.id)
    if message is None or message.sender_id is None:
        raise NotFound("No such message.")
    return await do_report(
        uow, reporter, message=message, subject_id=message.sender_id, reason=reason
    )


async def do_report_user(
    uow: UnitOfWork, reporter: User, subject_id: str, reason: str
) -> ModerationItem:
    """A user reports another user to the moderators."""
    await uow.ctx.limiter.hit(per_minute(10), "report", reporter.id, what="reports")
    if await users_repo.get(uow.session, subject_id) is None:
        raise NotFound("No such user.")
    return await do_report(uow, reporter, message=None, subject_id=subject_id, reason=reason)


async def do_block(uow: UnitOfWork, blocker: User, blocked_id: str) -> tuple[UserBlock, bool]:
    """Block a user from direct messages; True when newly blocked."""
    if blocked_id == blocker.id:
        raise Conflict("You cannot block yourself.")
    if await users_repo.get(uow.session, blocked_id) is None:
        raise NotFound("No such user.")
    existing = await uow.session.get(UserBlock, (blocker.id, blocked_id))
    if existing is not None:
        return existing, False
    block = UserBlock(blocker_id=blocker.id, blocked_id=blocked_id, created_at=uow.now)
    uow.session.add(block)
    await uow.session.flush()
    return block, True


async def check_direct_allowed(uow: UnitOfWork, sender_id: str, other_id: str) -> None:
    """Refuse direct messages between users when one has blocked the other."""
    if await protection_repo.is_blocked_between(uow.session, sender_id, other_id):
        raise BlockedByUser()
