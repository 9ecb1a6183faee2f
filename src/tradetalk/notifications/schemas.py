"""What crosses the wire for notifications, preferences, webhooks and response figures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

from tradetalk.kit.schemas import MAX_ID, Input
from tradetalk.notifications.models import DeliveryStatus, EmailMode

NotificationId = Annotated[int, Field(ge=1, le=MAX_ID)]
DeliveryIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The delivery's id.")]


class NotificationOut(BaseModel):
    """An item of the dashboard feed."""

    id: int
    type: str = Field(description="`message`, `reminder`, `reply_refused`, ...")
    title: str
    body: str
    conversation_id: int | None
    count: int = Field(description="How many events this item folds together (e.g. messages).")
    created_at: datetime
    seen_at: datetime | None


class NotificationPage(BaseModel):
    """A page of the feed, unseen items first, with the total unseen count."""

    items: list[NotificationOut]
    unread: int
    next_cursor: str | None


class MarkSeen(Input):
    """Which feed items the user has seen."""

    ids: list[NotificationId] | None = Field(
        default=None, max_length=500, description="These items; leave out to mark all seen."
    )


class UnreadCount(BaseModel):
    """How many feed items are unseen."""

    unread: int


class NotificationPreferences(Input):
    """How the user wants to hear about unread messages by email."""

    email: EmailMode = Field(
        strict=False,  # JSON brings the value, not the enum member
        description="`immediately`, `batched` (default: after the notify delay, at most one "
        "email per delay window), `daily_digest` or `off`.",
    )


class ResponseStatsOut(BaseModel):
    """A seller's first-reply figures over the last 30 days (null when there is no sample)."""

    median_first_response_seconds: float | None
    replied_within_1h: float | None = Field(description="Share from 0 to 1.")
    replied_within_24h: float | None = Field(description="Share from 0 to 1.")
    sample_size: int


class InboundAccepted(BaseModel):
    """An inbound email, queued for posting (or refusal)."""

    queued: bool = True


class WebhookDeliveryOut(BaseModel):
    """A webhook event and how its delivery to the operator went."""

    id: int
    webhook_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


class WebhookDeliveryPage(BaseModel):
    """A page of the delivery log, newest first."""

    items: list[WebhookDeliveryOut]
    next_cursor: str | None


class Redelivery(BaseModel):
    """A redelivery, queued."""

    delivery_id: int
    webhook_id: str
    queued: bool = True
