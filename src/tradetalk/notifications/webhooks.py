"""Webhooks to the operator, signed per Standard Webhooks, with a delivery log."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tradetalk import __version__
from tradetalk.context import AppContext
from tradetalk.db import UnitOfWork, read_session, unit_of_work
from tradetalk.errors import Conflict, NotFound
from tradetalk.notifications import repository as notifications_repo
from tradetalk.notifications.models import DeliveryStatus, WebhookDelivery


class WebhookFailed(Exception):
    """The operator's endpoint did not accept a delivery (the outbox retries it)."""


class WebhooksNotConfigured(Conflict):
    code = "webhooks_not_configured"
    title = "No webhook URL is configured"


def event_body(event_type: str, data: Mapping[str, Any], created_at: datetime) -> str:
    """The JSON body of an event (Standard Webhooks' recommended shape)."""
    return json.dumps(
        {"type": event_type, "timestamp": created_at.isoformat(), "data": data},
        separators=(",", ":"),
        default=str,
    )


def signed_headers(secret: str, webhook_id: str, body: str, sent_at: datetime) -> dict[str, str]:
    """The webhook-id, webhook-timestamp and webhook-signature headers of one request."""
    signature = Webhook(secret).sign(webhook_id, sent_at, body)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": f"tradetalk-webhooks/{__version__}",
    }


class WebhookSender:
    """Posts outbox `webhook` items to TRADETALK_WEBHOOK_URL and logs each outcome."""

    def __init__(self, ctx: AppContext, client: httpx.AsyncClient) -> None:
        self.ctx = ctx
        self.client = client

    async def deliver(
        self, item_id: int, created_at: datetime, payload: Mapping[str, Any], *, final: bool
    ) -> None:
        """Send one event; raise WebhookFailed when the endpoint does not take it."""
        settings = self.ctx.settings
        url = settings.webhook_url
        if "redeliver" in payload:
            async with read_session(self.ctx) as session:
                logged = await session.get(WebhookDelivery, int(payload["redeliver"]))
            if logged is None:
                return
            webhook_id, event_type, body = logged.webhook_id, logged.event_type, logged.body
        else:
            # The id is the outbox item's: the same on every retry, so a receiver that saw it
            # already (say the worker died after the POST) can tell and drop the repeat.
            webhook_id = f"evt_{item_id}"
            event_type = str(payload["type"])
            body = event_body(event_type, payload.get("data") or {}, created_at)
            async with read_session(self.ctx) as session:
                logged = await notifications_repo.delivery_by_webhook_id(session, webhook_id)
            if logged is not None and logged.status == DeliveryStatus.DELIVERED.value:
                return  # delivered before a crash kept the outbox item from being marked done
        if url is None:
            return  # webhooks were turned off after this was queued
        if settings.webhook_secret is None:
            raise WebhookFailed("TRADETALK_WEBHOOK_SECRET is not set")
        # The receiver checks this timestamp against its own wall clock (replay protection),
        # so it is the real time of sending, not the app clock.
        sent_at = datetime.now(UTC)
        headers = signed_headers(
            settings.webhook_secret.get_secret_value(), webhook_id, body, sent_at
        )
        status_code: int | None = None
        error: str | None = None
        try:
            response = await self.client.post(
                url,
                content=body.encode(),
                headers=headers,
                timeout=settings.webhook_timeout_seconds,
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        async with unit_of_work(self.ctx) as uow:
            await _record_attempt(
                uow, webhook_id, event_type, body, url, status_code, error, final=final
            )
        if error is not None:
            raise WebhookFailed(error)


async def _record_attempt(
    uow: UnitOfWork,
    webhook_id: str,
    event_type: str,
    body: str,
    url: str,
    status_code: int | None,
    error: str | None,
    *,
    final: bool,
) -> None:
    logged = await notifications_repo.delivery_by_webhook_id(uow.session, webhook_id)
    if logged is None:
        logged = WebhookDelivery(
            webhook_id=webhook_id,
            event_type=event_type,
            body=body,
            url=url,
            attempts=0,
            created_at=uow.now,
        )
        uow.session.add(logged)
    logged.url = url
    logged.attempts += 1
    logged.last_status_code = status_code
    logged.last_error = error
    logged.last_attempt_at = uow.now
    if error is None:
        logged.status = DeliveryStatus.DELIVERED.value
        logged.delivered_at = uow.now
    else:
        logged.status = (DeliveryStatus.FAILED if final else DeliveryStatus.PENDING).value
    await uow.session.flush()


async def do_redeliver(uow: UnitOfWork, delivery_id: int) -> WebhookDelivery:
    """Queue a logged event again, with its original webhook-id and body."""
    if not uow.ctx.settings.webhook_url:
        raise WebhooksNotConfigured("Set TRADETALK_WEBHOOK_URL to deliver webhooks.")
    logged = await uow.session.get(WebhookDelivery, delivery_id)
    if logged is None:
        raise NotFound("No such webhook delivery.")
    logged.status = DeliveryStatus.PENDING.value
    uow.outbox("webhook", {"redeliver": logged.id})
    return logged
