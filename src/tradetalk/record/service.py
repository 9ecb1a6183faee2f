"""The rules of the record: appending to the ledger, editing and withdrawing messages.

Every change to a conversation appends one entry with `append`, in the same transaction and
while holding the conversation's lock, so entries are ordered exactly as the changes were.
Nothing a user does removes a row: an edit keeps the earlier text as a version, a withdrawal
keeps the original for support and shows the parties a tombstone.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from tradetalk.accounts.models import User
from tradetalk.attachments.models import Attachment
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations.models import Conversation, Message, MessageKind, Participant
from tradetalk.conversations.schemas import MessageOut
from tradetalk.db import UnitOfWork
from tradetalk.disputes.access import Access
from tradetalk.disputes.audit import log_support_action
from tradetalk.errors import Conflict, Forbidden, NotFound
from tradetalk.kit.orm import untracked_row
from tradetalk.kit.ratelimit import per_minute
from tradetalk.notifications import service as notifications_service
from tradetalk.protection import service as protection_service
from tradetalk.protection.policy import Verdict
from tradetalk.realtime import service as realtime_service
from tradetalk.record import chain
from tradetalk.record import repository as record_repo
from tradetalk.record.models import EntryKind, MessageVersion, RecordEntry, VersionReason


class NotYourMessage(Forbidden):
    code = "not_your_message"
    title = "Only the sender can change a message"


class MessageNotEditable(Conflict):
    code = "message_not_editable"
    title = "Only text messages can be edited or withdrawn"


class EditWindowClosed(Conflict):
    code = "edit_window_closed"
    title = "The time to edit this message has passed"


class MessageWithdrawn(Conflict):
    code = "message_withdrawn"
    title = "The message was withdrawn"


class SupportAccessReadOnly(Forbidden):
    code = "support_access_read_only"
    title = "Support writes in a conversation only while a dispute on it is open"


def anchor(conversation: Conversation, members: list[Participant]) -> dict[str, Any]:
    """The fixed header of a conversation that its chain starts from."""
    return {
        "v": 1,
        "conversation_id": conversation.id,
        "kind": conversation.kind,
        "transaction_id": conversation.transaction_id,
        "created_at": chain.canonical_time(conversation.created_at),
        "participants": sorted(
            ({"user_id": p.user_id, "role": p.role} for p in members),
            key=lambda member: member["user_id"],
        ),
    }


async def append(
    uow: UnitOfWork,
    conversation_id: int,
    kind: str,
    payload: Mapping[str, Any],
    *,
    chain_end: record_repo.ChainEnd | None = None,
) -> RecordEntry:
    """Append one entry to a conversation's record, chained to the newest one.

    Call it inside the change it records, holding the conversation's lock (`append_message` or
    `conversations.repository.lock`), so concurrent changes cannot fork the chain; the primary
    key (conversation_id, position) turns a missing lock into an error, never a silent fork.
    `payload` must be canonical JSON material: str, int, bool, None, lists and dicts, times
    already formatted with `chain.canonical_time`. `chain_end` is the ledger's head when the
    caller read it already under the lock (`append_message_locked`).

    The entry is written with the commit (`UnitOfWork.record`), with the transaction's other
    trailing writes."""
    head = _pending_head(uow, conversation_id)
    if head is None:
        if chain_end is None:
            head = await record_repo.head(uow.session, conversation_id)
        else:
            head = chain_end.head
    if head is None:
        conversation, members = await record_repo.anchor_parts(uow.session, conversation_id)
        prev_hash, position = chain.anchor_hash(anchor(conversation, members)), 0
    else:
        prev_hash, position = head.hash, head.position + 1
    link = chain.make_link(
        prev_hash,
        index=position,
        kind=kind,
        at=uow.now,
        payload=payload,
        salt=secrets.token_hex(16),
    )
    # Written by a raw statement at commit and never changed: built as a loaded row is
    # (kit/orm.untracked_row), without the attribute events of the constructor.
    entry = untracked_row(
        RecordEntry,
        {
            "conversation_id": conversation_id,
            "position": position,
            "kind": kind,
            "payload": chain.canonical_text(link.payload),
            "salt": link.salt,
            "digest": link.digest,
            "prev_hash": link.prev_hash,
            "hash": link.hash,
            "created_at": uow.now,
        },
    )
    uow.record(entry)
    return entry


def _pending_head(uow: UnitOfWork, conversation_id: int) -> record_repo.Head | None:
    # An entry this transaction appended and has not written yet is newer than anything stored
    # (the lock is held since that append).
    for entry in reversed(uow.record_entries):
        if entry.conversation_id == conversation_id:
            return record_repo.Head(entry.position, entry.hash)
    return None


def posted_payload(message: Message) -> dict[str, Any]:
    """What the record keeps of a new message (attachment digests join as `attachments`)."""
    return {
        "message_id": message.id,
        "seq": message.seq,
        "kind": message.kind,
        "sender_id": message.sender_id,
        "sender_role": message.sender_role,
        "body": message.body,
        "created_at": chain.canonical_time(message.created_at),
    }


async def record_posted(
    uow: UnitOfWork,
    message: Message,
    *,
    attachments: Sequence[Attachment] = (),
    details: Mapping[str, Any] | None = None,
    chain_end: record_repo.ChainEnd | None = None,
) -> RecordEntry:
    """Append a newly stored message to its conversation's record, with the digests of its
    attachments and the terms of an offer or shipping update (`details`); `chain_end` as for
    `append`."""
    payload = posted_payload(message)
    if attachments:
        payload["attachments"] = [
            {"id": a.id, "sha256": a.sha256, "content_type": a.content_type, "size": a.size}
            for a in attachments
        ]
    if details:
        payload["details"] = dict(details)
    return await append(
        uow, message.conversation_id, EntryKind.MESSAGE_POSTED, payload, chain_end=chain_end
    )


async def _own_text_message(
    uow: UnitOfWork, access: Access, actor: User, message_id: int
) -> Message:
    if not access.can_write:
        raise SupportAccessReadOnly()
    message = await conversations_repo.message_in(uow.session, access.conversation.id, message_id)
    if message is None:
        raise NotFound("No such message.")
    if message.sender_id != actor.id:
        raise NotYourMessage()
    if message.kind != MessageKind.TEXT.value:
        raise MessageNotEditable()
    return message


async def check_edit(
    uow: UnitOfWork, access: Access, actor: User, message: Message, body: str
) -> Verdict:
    """Raise when the sender may not change this message to `body` now; return the shield's
    verdict (its `text_for_recipient` is the text to show).

    Edits pass the same content checks as sends: an edit is no way around the shield."""
    if message.withdrawn:
        raise MessageWithdrawn()
    window = timedelta(seconds=uow.ctx.settings.edit_window_seconds)
    if uow.now - message.created_at > window:
        raise EditWindowClosed(
            f"Messages can be edited for {uow.ctx.settings.edit_window_seconds} seconds after "
            "they are sent."
        )
    await uow.ctx.limiter.hit(
        per_minute(uow.ctx.settings.messages_per_minute), "edit", actor.id, what="edits"
    )
    await protection_service.check_may_send(uow, actor)
    verdict = await protection_service.screen(
        uow, body, conversation_id=message.conversation_id, sender_id=actor.id
    )
    if verdict.blocked:
        await protection_service.do_refuse(uow, access.conversation, actor, body, verdict)
    return verdict


def _replace(uow: UnitOfWork, message: Message, reason: VersionReason) -> None:
    """Keep the text the message shows now as a version before it is replaced."""
    uow.session.add(
        MessageVersion(
            message_id=message.id,
            version=message.edit_count,
            body=message.body,
            shown_from=message.edited_at or message.created_at,
            replaced_at=uow.now,
            replaced_because=reason.value,
        )
    )


async def _participant_ids(uow: UnitOfWork, conversation_id: int) -> list[str]:
    return await conversations_repo.participant_ids(uow.session, conversation_id)


async def do_edit(
    uow: UnitOfWork, access: Access, actor: User, message_id: int, body: str
) -> Message:
    """Change a message's text within the edit window, keeping the earlier text on the record."""
    await conversations_repo.lock(uow.session, access.conversation.id)
    message = await _own_text_message(uow, access, actor, message_id)
    verdict = await check_edit(uow, access, actor, message, body)
    shown = verdict.text_for_recipient
    if shown == message.body:
        return message  # a retry, or nothing changed: no new version
    if verdict.needs_review:
        await protection_service.do_queue_delivered(uow, message, body, verdict)
    _replace(uow, message, VersionReason.EDITED)
    message.body = shown
    message.edited_at = uow.now
    message.edit_count += 1
    await append(
        uow,
        message.conversation_id,
        EntryKind.MESSAGE_EDITED,
        {
            "message_id": message.id,
            "version": message.edit_count,
            "body": shown,
            "edited_at": chain.canonical_time(uow.now),
        },
    )
    log_support_action(uow, access, actor, "message.edited", {"message_id": message.id})
    uow.emit(
        "message.updated",
        MessageOut.model_validate(message, from_attributes=True).model_dump(mode="json"),
        to=await _participant_ids(uow, message.conversation_id),
    )
    return message


async def do_withdraw(uow: UnitOfWork, access: Access, actor: User, message_id: int) -> Message:
    """Withdraw a message: the parties see a tombstone, the record and support keep the text."""
    await conversations_repo.lock(uow.session, access.conversation.id)
    message = await _own_text_message(uow, access, actor, message_id)
    if message.withdrawn:
        return message  # already withdrawn: the same tombstone
    _replace(uow, message, VersionReason.WITHDRAWN)
    message.body = ""  # what parties and search see from now on
    message.withdrawn_at = uow.now
    await append(
        uow,
        message.conversation_id,
        EntryKind.MESSAGE_WITHDRAWN,
        {"message_id": message.id, "withdrawn_at": chain.canonical_time(uow.now)},
    )
    log_support_action(uow, access, actor, "message.withdrawn", {"message_id": message.id})
    tombstone = MessageOut.model_validate(message, from_attributes=True).model_dump(mode="json")
    recipients = await _participant_ids(uow, message.conversation_id)
    # The parties never read a withdrawn text again (support does, from the record): not in
    # the thread, and not from what was stored when it was sent either.
    holders = {*recipients, *([message.sender_id] if message.sender_id else [])}
    await realtime_service.do_redact_message(
        uow,
        message,
        holders,
        {key: tombstone[key] for key in ("body", "withdrawn", "withdrawn_at")},
    )
    texts = [version.body for version in await record_repo.versions(uow.session, message.id)]
    await notifications_service.on_message_withdrawn(uow, message, texts, recipients)
    uow.emit("message.updated", tombstone, to=recipients)
    return message


def entry_payload(entry: RecordEntry) -> dict[str, Any]:
    """An entry's payload as a dict."""
    payload: dict[str, Any] = json.loads(entry.payload)
    return payload
