"""The names of what the event stream carries, and how a frame is written."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """Durable events: stored per recipient with an id, replayed with `after=`."""

    MESSAGE_CREATED = "message.created"  # data: the message as the API returns it
    MESSAGE_UPDATED = "message.updated"  # data: the message after an edit or masking
    CONVERSATION_READ = "conversation.read"  # data: who read up to which message
    OFFER_UPDATED = "offer.updated"  # data: the offer as the API returns it
    NOTIFICATION_CREATED = "notification.created"  # data: the notification as listed


class SignalType(StrEnum):
    """Ephemeral frames: never stored, `id` is null, not replayed."""

    TYPING = "typing"  # data: {"conversation_id", "user_id"}
    READY = "ready"  # data: {"last_event_id"}; replay is done, frames from now on are live
    RESYNC = "resync"  # data: {"last_event_id", "reason"}; reload state, then carry on
    HEARTBEAT = "heartbeat"  # data: {}
    ERROR = "error"  # data: {"code", "detail"}; an answer to a bad client frame


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


def frame(event_id: int, event_type: str, data_json: str) -> str:
    """A durable event's frame, from its already serialised data."""
    return f'{{"id":{event_id},"type":{json.dumps(event_type)},"data":{data_json}}}'


def data_json(data: Any) -> str:
    """Serialise event data the way it is stored."""
    return _compact(data)


def signal(signal_type: SignalType, data: dict[str, Any] | None = None) -> str:
    """An ephemeral frame (`id` null)."""
    return _compact({"id": None, "type": signal_type.value, "data": data or {}})


HEARTBEAT_FRAME = signal(SignalType.HEARTBEAT)

# Not a frame for clients: what a user's open streams receive (through the broker, on every
# node) when the user's tokens are revoked. Each stream checks its token again at once and
# closes if it was one of them; the stream drops it either way. Not JSON, so that it can never
# be mistaken for, or written as, a frame a client reads.
TOKENS_REVOKED = "tokens-revoked"


def frame_id(frame: str) -> int | None:
    """The id of a frame written by `frame` or `signal` (both start with `{"id":`)."""
    head = frame[6 : frame.index(",", 6)]
    return None if head == "null" else int(head)
