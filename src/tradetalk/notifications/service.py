"""The rules of notifications: what a new message queues, who gets emailed when, the feed,
preferences, reminders and response-time figures."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.models import User
from tradetalk.config import Settings
from tradetalk.conversations.models import (
    Conversation,
    MemberRole,
    Membership,
    Message,
    ParticipantRole,
    PreviousSpeaker,
    SenderRole,
)
from tradetalk.db import UnitOfWork
from tradetalk.errors import NotFound
from tradetalk.marketplace import repository as transactions_repo
from tradetalk.notifications import repository as notifications_repo
from tradetalk.notifications import tokens
from tradetalk.notifications.mail import OutgoingEmail, message_id_for
from tradetalk.notifications.models import EmailMode, Notification, NotificationSettings
from tradetalk.notifications.schemas import NotificationOut
from tradetalk.notifications.templates import render_email

SITE_NAME = "tradetalk"
PREVIEW_CHARS = 140
MAX_MESSAGES_PER_EMAIL = 50
# How far back an email looks for unread messages; older threads were surely notified.
UNREAD_WINDOW = timedelta(days=30)
STATS_WINDOW = timedelta(days=30)
REMINDERS = (("1h", timedelta(hours=1), "1 hour"), ("20h", timedelta(hours=20), "20 hours"))


class FeedType:
    """The kinds of item a feed holds."""

    MESSAGE = "message"
    REMINDER = "reminder"
    REPLY_REFUSED = "reply_refused"


# --- helpers shared by the handlers -----------------------------------------------------


def conversation_url(settings: Settings, conversation_id: int) -> str:
    """Where a link in an email about this conversation goes."""
    return settings.conversation_url.format(
        public_url=settings.public_url.rstrip("/"), conversation_id=conversation_id
    )


def unsubscribe_url(settings: Settings, user_id: str) -> str:
    """The one-click unsubscribe URL of a user (RFC 8058)."""
    token = tokens.unsubscribe_token(settings.secret_bytes(), user_id)
    return f"{settings.public_url.rstrip('/')}/v1/unsubscribe/{token}"


def relay_address_for(settings: Settings, conversation_id: int, role: str, user_id: str) -> str:
    """The reply-by-email address of this user in this conversation."""
    return tokens.relay_address(
        settings.secret_bytes(), settings.effective_relay_domain, conversation_id, role, user_id
    )


def preview(text: str, settings: Settings) -> str:
    """The message as an email shows it: whole, or its start (TRADETALK_EMAIL_CONTENT)."""
    if settings.email_content == "full" or len(text) <= PREVIEW_CHARS:
        return text
    return text[: PREVIEW_CHARS - 1].rstrip() + "…"


def _short(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1].rstrip() + "…"


async def on_message_withdrawn(
    uow: UnitOfWork, message: Message, texts: Iterable[str], user_ids: Iterable[str]
) -> None:
    """Take a withdrawn message's texts (each version it showed) out of the feed items that
    quote them, as the thread does."""
    previews = {_short(text) for text in texts if text}
    if previews:
        await notifications_repo.blank_bodies(
            uow.session, message.conversation_id, user_ids, previews
        )


def next_digest_time(now: datetime, hour: int) -> datetime:
    """The next daily digest time after `now`."""
    today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


# --- the feed --------------------------------------------------------------------------------


def notification_out(item: Notification) -> NotificationOut:
    """The public form of a feed item."""
    return NotificationOut.model_validate(item, from_attributes=True)


async def do_notify(
    uow: UnitOfWork,
    user_id: str,
    type_: str,
    *,
    title: str,
    body: str,
    conversation_id: int | None = None,
) -> Notification:
    """Add an item to a user's dashboard feed and tell their open clients.

    (A new message's item is `notifications_repo.note_message`'s: folded into the unseen item
    about the same conversation, so a chatty thread is one feed line, and without an event of
    its own, since `message.created` tells the same news.)"""
    item = await notifications_repo.add_notification(
        uow.session,
        Notification(
            user_id=user_id,
            type=type_,
            title=title[:200],
            body=body,
            conversation_id=conversation_id,
            count=1,
            created_at=uow.now,
        ),
    )
    uow.emit("notification.created", notification_out(item).model_dump(mode="json"), to=[user_id])
    return item


async def do_mark_seen(uow: UnitOfWork, user: User, ids: Sequence[int] | None) -> int:
    """Mark feed items seen (all when `ids` is None); returns how many are still unseen."""
    await notifications_repo.mark_seen(uow.session, user.id, uow.now, ids=ids)
    return await notifications_repo.unseen_count(uow.session, user.id)


async def on_conversation_read(uow: UnitOfWork, conversation_id: int, reader_id: str) -> None:
    """Reading a thread clears its message items from the reader's feed."""
    await notifications_repo.mark_seen(
        uow.session, reader_id, uow.now, conversation_id=conversation_id
    )


# --- what a new message queues -------------------------------------------------------------


def queue_webhook(uow: UnitOfWork, event_type: str, data: Mapping[str, Any], *, key: str) -> None:
    """Queue a webhook to the operator, only when one is configured.

    Deciding at enqueue time means an operator who sets a webhook URL later is not flooded
    with events from before, and a marketplace without webhooks stores no rows for them."""
    if uow.ctx.settings.webhook_url:
        uow.outbox("webhook", {"type": event_type, "data": dict(data)}, key=key)


async def on_message_created(
    uow: UnitOfWork,
    conversation: Conversation,
    message: Message,
    members: Sequence[Membership],
    sender: User,
    data: Mapping[str, Any],
    *,
    previous_speaker: PreviousSpeaker | None = None,
) -> None:
    """Queue what a new item of a thread causes: feed items, delayed emails, reminders and
    the `message.created` webhook (`data` is the message as the API shows it;
    `previous_speaker`, for a buyer's item, who spoke before it, when the caller read it)."""
    settings = uow.ctx.settings
    recipients = [p for p in members if p.user_id != message.sender_id]
    for recipient in recipients:
        # A feed item as do_notify makes it, without its event: the recipient's clients get
        # message.created already, one event per message.
        note = notifications_repo.PendingFeedNote(
            recipient.user_id,
            FeedType.MESSAGE,
            conversation.id,
            title=f"New message from {sender.display_name}"[:200],
            fold_title="{count} new messages from " + sender.display_name,
            body=_short(message.body),
        )
        known_mode = recipient.email_mode if isinstance(recipient, MemberRole) else None
        if known_mode is not None:  # read with the members: the note waits for the commit
            mode = EmailMode(known_mode)
            uow.note(note)
        else:
            mode = await notifications_repo.note_message(uow.session, note, uow.now)
        if mode is EmailMode.OFF:
            continue
        delay = 0 if mode is EmailMode.IMMEDIATELY else settings.notify_delay_seconds
        uow.outbox(
            "notify_unread",
            {
                "user_id": recipient.user_id,
                "conversation_id": conversation.id,
                "message_id": message.id,
                "seq": message.seq,
            },
            run_after=uow.now + timedelta(seconds=delay),
            key=f"notify:{message.id}:{recipient.user_id}",
        )
    queue_webhook(uow, "message.created", data, key=f"webhook:message.created:{message.id}")
    if message.sender_role == SenderRole.BUYER.value:
        await _queue_reminders(uow, conversation, message, previous_speaker)


async def _queue_reminders(
    uow: UnitOfWork,
    conversation: Conversation,
    message: Message,
    previous_speaker: PreviousSpeaker | None,
) -> None:
    # Only the buyer's first unanswered message starts the clock; follow-ups do not restart it.
    if previous_speaker is None:
        previous_speaker = PreviousSpeaker(
            await notifications_repo.previous_speaker(uow.session, conversation.id, message.seq)
        )
    previous = previous_speaker.role
    if previous is not None and previous != SenderRole.SELLER.value:
        return
    for stage, after, _ in REMINDERS:
        uow.outbox(
            "reminder",
            {"conversation_id": conversation.id, "message_id": message.id, "stage": stage},
            run_after=message.created_at + after,
            key=f"reminder:{message.id}:{stage}",
        )


# --- emails about unread messages ---------------------------------------------------------


async def handle_notify_unread(uow: UnitOfWork, payload: Mapping[str, Any]) -> datetime | None:
    """Email a recipient about a message if it is still unread (batching whatever else is
    unread and not yet emailed); returns a later time to try again, or None when finished."""
    user = await users_repo.get(uow.session, payload["user_id"])
    if user is None or not user.email:
        return None
    row = await notifications_repo.settings_for_update(uow.session, user.id, uow.now)
    mode = EmailMode(row.email_mode)
    if mode is EmailMode.OFF:
        return None
    conversation_id, seq = int(payload["conversation_id"]), int(payload["seq"])
    member = await notifications_repo.participant(uow.session, conversation_id, user.id)
    if member is None or member.last_read_seq >= seq:
        return None  # read in the meantime: no email
    if await notifications_repo.emailed_up_to(uow.session, user.id, conversation_id) >= seq:
        return None  # an earlier email already carried it
    if mode is EmailMode.DAILY_DIGEST:
        at = next_digest_time(uow.now, uow.ctx.settings.digest_hour_utc)
        uow.outbox(
            "digest",
            {"user_id": user.id},
            run_after=at,
            key=f"digest:{user.id}:{at.isoformat()}",
        )
        return None
    window = timedelta(seconds=uow.ctx.settings.notify_delay_seconds)
    if mode is EmailMode.BATCHED and row.last_email_at and uow.now < row.last_email_at + window:
        return row.last_email_at + window  # at most one email per window: this one waits
    await _email_unread(uow, user, row)
    return None


async def handle_digest(uow: UnitOfWork, payload: Mapping[str, Any]) -> None:
    """Send the daily digest of everything still unread and not yet emailed."""
    user = await users_repo.get(uow.session, payload["user_id"])
    if user is None or not user.email:
        return
    row = await notifications_repo.settings_for_update(uow.session, user.id, uow.now)
    if EmailMode(row.email_mode) is EmailMode.OFF:
        return
    await _email_unread(uow, user, row)


async def _email_unread(uow: UnitOfWork, user: User, row: NotificationSettings) -> None:
    settings = uow.ctx.settings
    assert user.email is not None
    items = await notifications_repo.unread_not_emailed(
        uow.session,
        user.id,
        active_since=uow.now - UNREAD_WINDOW,
        limit=MAX_MESSAGES_PER_EMAIL,
    )
    if not items:
        return
    conversations: dict[int, dict[str, Any]] = {}
    newest = items[0]
    for item in items:
        if item.message.created_at >= newest.message.created_at:
            newest = item
        entry = conversations.setdefault(
            item.conversation.id,
            {
                "title": item.title or f"Conversation with {item.sender_name}",
                "url": conversation_url(settings, item.conversation.id),
                "other_name": item.sender_name,
                "messages": [],
                "last_seq": 0,
            },
        )
        entry["messages"].append(
            {"sender_name": item.sender_name, "body": preview(item.message.body, settings)}
        )
        entry["last_seq"] = max(entry["last_seq"], item.message.seq)
    reply_target = conversations[newest.conversation.id]
    unsubscribe = unsubscribe_url(settings, user.id)
    text, html = render_email(
        "unread",
        site_name=SITE_NAME,
        recipient_name=user.display_name,
        total=len(items),
        conversations=list(conversations.values()),
        reply_target=reply_target,
        unsubscribe_url=unsubscribe,
    )
    if len(conversations) == 1:
        subject = (
            f"{newest.sender_name} sent you a message about {reply_target['title']}"
            if len(items) == 1
            else f"{len(items)} new messages about {reply_target['title']}"
        )
    else:
        subject = f"{len(items)} new messages on {SITE_NAME}"
    key = f"email:unread:{user.id}:{newest.message.id}"
    email = OutgoingEmail(
        to_address=user.email,
        to_name=user.display_name,
        subject=subject[:250],
        text=text,
        html=html,
        message_id=message_id_for(key, settings.effective_mail_domain),
        reply_to=relay_address_for(settings, newest.conversation.id, newest.role, user.id),
        unsubscribe_url=unsubscribe,
    )
    uow.outbox("email", email.to_payload(), key=key)
    await notifications_repo.advance_email_cursors(
        uow.session, user.id, {cid: entry["last_seq"] for cid, entry in conversations.items()}
    )
    row.last_email_at = uow.now


# --- reminders -----------------------------------------------------------------------------


async def handle_reminder(uow: UnitOfWork, payload: Mapping[str, Any]) -> None:
    """Remind the seller of a buyer still waiting, unless the seller has answered since."""
    conversation_id = int(payload["conversation_id"])
    message = await uow.session.get(Message, int(payload["message_id"]))
    if message is None or await notifications_repo.seller_replied_after(
        uow.session, conversation_id, message.seq
    ):
        return
    stage = str(payload["stage"])
    waited = next(label for name, _, label in REMINDERS if name == stage)
    seller_member = await notifications_repo.member_with_role(
        uow.session, conversation_id, ParticipantRole.SELLER.value
    )
    if seller_member is None:
        return
    people = await users_repo.get_many(
        uow.session, [seller_member.user_id, message.sender_id or ""]
    )
    seller, buyer = people.get(seller_member.user_id), people.get(message.sender_id or "")
    if seller is None or buyer is None:
        return
    conversation = await uow.session.get(Conversation, conversation_id)
    assert conversation is not None
    transaction = (
        await transactions_repo.get(uow.session, conversation.transaction_id)
        if conversation.transaction_id
        else None
    )
    title = transaction.title if transaction else f"your conversation with {buyer.display_name}"
    await do_notify(
        uow,
        seller.id,
        FeedType.REMINDER,
        title=f"{buyer.display_name} has been waiting {waited} for your answer",
        body=_short(message.body),
        conversation_id=conversation_id,
    )
    settings = uow.ctx.settings
    queue_webhook(
        uow,
        "reminder.sent",
        {
            "conversation_id": conversation_id,
            "transaction_id": conversation.transaction_id,
            "seller_id": seller.id,
            "buyer_id": buyer.id,
            "waiting_since": message.created_at.isoformat(),
            "stage": stage,
        },
        key=f"webhook:reminder.sent:{message.id}:{stage}",
    )
    if not seller.email or await email_mode_of(uow.session, seller.id) is EmailMode.OFF:
        return
    unsubscribe = unsubscribe_url(settings, seller.id)
    url = conversation_url(settings, conversation_id)
    text, html = render_email(
        "reminder",
        recipient_name=seller.display_name,
        buyer_name=buyer.display_name,
        waited=waited,
        title=title,
        body=preview(message.body, settings),
        url=url,
        can_reply=True,
        unsubscribe_url=unsubscribe,
    )
    key = f"email:reminder:{message.id}:{stage}"
    email = OutgoingEmail(
        to_address=seller.email,
        to_name=seller.display_name,
        subject=f"{buyer.display_name} is waiting for your answer about {title}"[:250],
        text=text,
        html=html,
        message_id=message_id_for(key, settings.effective_mail_domain),
        reply_to=relay_address_for(
            settings, conversation_id, ParticipantRole.SELLER.value, seller.id
        ),
        unsubscribe_url=unsubscribe,
    )
    uow.outbox("email", email.to_payload(), key=key)


# --- preferences -----------------------------------------------------------------------------


async def email_mode_of(session: AsyncSession, user_id: str) -> EmailMode:
    """The user's email preference."""
    return await notifications_repo.email_mode(session, user_id)


async def do_set_email_mode(uow: UnitOfWork, user_id: str, mode: EmailMode) -> EmailMode:
    """Change how a user hears about unread messages by email."""
    row = await notifications_repo.settings_for_update(uow.session, user_id, uow.now)
    row.email_mode = mode.value
    row.updated_at = uow.now
    return mode


async def do_unsubscribe(uow: UnitOfWork, token: str) -> None:
    """Turn notification emails off for the user an unsubscribe token names."""
    user_id = tokens.unsubscribe_user(uow.ctx.settings.secret_bytes(), token)
    if user_id is None or await users_repo.get(uow.session, user_id) is None:
        raise NotFound("This unsubscribe link is not valid.")
    await do_set_email_mode(uow, user_id, EmailMode.OFF)


def check_unsubscribe_token(settings: Settings, token: str) -> None:
    """Raise NotFound unless we made this unsubscribe token."""
    if tokens.unsubscribe_user(settings.secret_bytes(), token) is None:
        raise NotFound("This unsubscribe link is not valid.")


# --- response statistics ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseStats:
    """A seller's first-reply figures over the last 30 days."""

    median_first_response_seconds: float | None
    replied_within_1h: float | None
    replied_within_24h: float | None
    sample_size: int


async def response_stats(session: AsyncSession, user_id: str, now: datetime) -> ResponseStats:
    """Median time to the seller's first reply and the shares answered within 1 h and 24 h.

    A conversation counts once the seller has replied or the buyer has waited 24 hours; an
    unanswered one counts as "not within" and, for the median, with the time waited so far
    (a lower bound), so silence can never make a seller look faster."""
    if await users_repo.get(session, user_id) is None:
        raise NotFound("No such user.")
    exchanges = await notifications_repo.first_exchanges(session, user_id, now - STATS_WINDOW)
    day, hour = timedelta(hours=24), timedelta(hours=1)
    waits: list[timedelta] = []
    within_hour = within_day = 0
    for asked_at, answered_at in exchanges:
        if answered_at is None:
            if now - asked_at < day:
                continue  # still open and not yet late: no verdict
            waits.append(now - asked_at)
            continue
        wait = answered_at - asked_at
        waits.append(wait)
        within_hour += wait <= hour
        within_day += wait <= day
    if not waits:
        return ResponseStats(None, None, None, 0)
    count = len(waits)
    median = statistics.median(w.total_seconds() for w in waits)
    return ResponseStats(
        median_first_response_seconds=round(median, 1),
        replied_within_1h=round(within_hour / count, 4),
        replied_within_24h=round(within_day / count, 4),
        sample_size=count,
    )
