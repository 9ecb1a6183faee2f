"""The outbox worker: claims due side effects, performs them, retries with backoff.

Delivery is at least once. An item is claimed with a lease (`locked_until`); if the worker dies
mid-delivery the lease runs out and another pass performs it again. Every handler is therefore
idempotent or carries a stable identity the far side can dedupe on: a webhook keeps its
`webhook-id` (and is skipped when the log shows it delivered), an email keeps its Message-ID,
a reply by email keeps its client_message_id, and database handlers re-check state first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import structlog
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.context import AppContext
from tradetalk.db import is_unavailable, read_session, unit_of_work
from tradetalk.kit.orm import dialect_name
from tradetalk.notifications import service as notifications_service
from tradetalk.notifications.inbound import Shield, default_shield, handle_inbound
from tradetalk.notifications.mail import Mailer, OutgoingEmail, build_message, mailer_for
from tradetalk.notifications.models import OutboxItem, OutboxStatus
from tradetalk.notifications.webhooks import WebhookSender

log = structlog.get_logger("tradetalk.worker")

MAX_BACKOFF = timedelta(hours=6)
# The longest pause between passes while the database is away.
OUTAGE_BACKOFF_MAX_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed outbox item."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # including this one
    created_at: datetime
    key: str | None
    final: bool  # no retry after this attempt


# A handler performs a job; it may return a time to run it again (a deferral, not a failure).
Handler = Callable[[Job], Awaitable[datetime | None]]


def backoff(attempts: int, base_seconds: float, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter: about base * 2^(attempts-1), capped at 6 hours."""
    delay = min(base_seconds * 2 ** max(attempts - 1, 0), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=delay * rng.uniform(0.75, 1.25))


def _due(now: datetime) -> Select[tuple[int]]:
    return (
        select(OutboxItem.id)
        .where(
            OutboxItem.status == OutboxStatus.PENDING.value,
            OutboxItem.run_after <= now,
            (OutboxItem.locked_until.is_(None)) | (OutboxItem.locked_until < now),
        )
        .order_by(OutboxItem.run_after, OutboxItem.id)
    )


async def anything_due(session: AsyncSession, now: datetime) -> bool:
    """Whether any item waits to be claimed: asked in a read session, so that an idle worker
    polling does not take SQLite's write lock from senders."""
    return (await session.scalar(_due(now).limit(1))) is not None


async def claim(
    session: AsyncSession, now: datetime, *, lease: timedelta, limit: int
) -> list[OutboxItem]:
    """Take up to `limit` due items for this worker until `now + lease`.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so workers claiming at the same moment split the
    work instead of queueing behind each other. SQLite: one writer at a time (BEGIN IMMEDIATE),
    so the conditional UPDATE is the whole claim."""
    due = _due(now).limit(limit)
    if dialect_name(session) != "sqlite":
        due = due.with_for_update(skip_locked=True)
    ids = list(await session.scalars(due))
    if not ids:
        return []
    result = await session.scalars(
        update(OutboxItem)
        .where(OutboxItem.id.in_(ids))
        .values(locked_until=now + lease, attempts=OutboxItem.attempts + 1)
        .returning(OutboxItem)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.all(), key=lambda item: (item.run_after, item.id))


class Worker:
    """Drains the outbox of one app context; run embedded or as `tradetalk worker`."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        mailer: Mailer | None = None,
        shield: Shield | None = None,
        http: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.ctx = ctx
        self.mailer = mailer or mailer_for(ctx.settings)
        self.shield = shield or default_shield(ctx)
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(follow_redirects=False)
        self.webhooks = WebhookSender(ctx, self.http)
        self.rng = rng or random.Random()
        self.handlers: dict[str, Handler] = {
            "webhook": self._webhook,
            "email": self._email,
            "notify_unread": self._in_transaction(notifications_service.handle_notify_unread),
            "digest": self._in_transaction(notifications_service.handle_digest),
            "reminder": self._in_transaction(notifications_service.handle_reminder),
            "inbound_email": self._inbound,
        }

    async def close(self) -> None:
        """Release the HTTP client."""
        if self._own_http:
            await self.http.aclose()

    # --- handlers ------------------------------------------------------------------------

    def _in_transaction(
        self, handle: Callable[[Any, Mapping[str, Any]], Awaitable[datetime | None]]
    ) -> Handler:
        async def run(job: Job) -> datetime | None:
            async with unit_of_work(self.ctx) as uow:
                return await handle(uow, job.payload)

        return run

    async def _webhook(self, job: Job) -> None:
        await self.webhooks.deliver(job.id, job.created_at, job.payload, final=job.final)

    async def _email(self, job: Job) -> None:
        email = OutgoingEmail.from_payload(job.payload)
        message: EmailMessage = build_message(
            email, sender=self.ctx.settings.effective_mail_from, sent_at=job.created_at
        )
        await self.mailer.send(message)

    async def _inbound(self, job: Job) -> None:
        await handle_inbound(self.ctx, job.payload, self.shield)

    # --- the loop ------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim and perform every item due now (in batches); returns how many were run."""
        settings = self.ctx.settings
        done = 0
        while True:
            now = self.ctx.clock.now()
            async with read_session(self.ctx) as session:
                if not await anything_due(session, now):
                    return done
            async with unit_of_work(self.ctx) as uow:
                items = await claim(
                    uow.session,
                    now,
                    lease=timedelta(seconds=settings.worker_lease_seconds),
                    limit=settings.worker_batch_size,
                )
                jobs = [
                    Job(
                        id=item.id,
                        kind=item.kind,
                        payload=json.loads(item.payload),
                        attempts=item.attempts,
                        created_at=item.created_at,
                        key=item.idempotency_key,
                        final=item.attempts >= settings.outbox_max_attempts,
                    )
                    for item in items
                ]
            if not jobs:
                return done
            # Jobs of a batch are independent; one slow endpoint should not hold up the rest.
            await asyncio.gather(*(self.perform(job) for job in jobs))
            done += len(jobs)

    async def perform(self, job: Job) -> None:
        """Run one claimed job and record the outcome."""
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for outbox items of kind {job.kind!r}")
            later = await handler(job)
        except Exception as exc:
            await self._failed(job, exc)
            return
        async with unit_of_work(self.ctx) as uow:
            values: dict[str, Any]
            if later is not None:
                # A deferral is not an attempt.
                values = {"run_after": later, "attempts": job.attempts - 1}
            else:
                values = {"status": OutboxStatus.DONE.value, "done_at": uow.now}
            await uow.session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == job.id)
                .values(locked_until=None, **values)
            )

    async def _failed(self, job: Job, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        settings = self.ctx.settings
        async with unit_of_work(self.ctx) as uow:
            values: dict[str, Any] = {"locked_until": None, "last_error": error}
            if job.final:
                values["status"] = OutboxStatus.DEAD.value
                log.error("outbox item dead", id=job.id, kind=job.kind, error=error)
            else:
                delay = backoff(job.attempts, settings.outbox_backoff_seconds, self.rng)
                values["run_after"] = uow.now + delay
                log.warning(
                    "outbox item failed", id=job.id, kind=job.kind, error=error, retry_in=delay
                )
            await uow.session.execute(
                update(OutboxItem).where(OutboxItem.id == job.id).values(**values)
            )

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set: drain, then sleep until woken by a commit or the poll."""
        signal = self.ctx.outbox_signal
        poll = self.ctx.settings.worker_poll_seconds
        outage = 0  # passes in a row that found the database away
        while not stop.is_set():
            signal.clear()
            wait = poll
            try:
                await self.run_once()
                if outage:
                    log.info("database back; outbox worker resumed", failed_passes=outage)
                outage = 0
            except Exception as exc:  # keep the worker alive whatever one pass ran into
                if not is_unavailable(exc):
                    log.exception("outbox pass failed")
                else:
                    # Back off while it is away (a commit, which means it is back, still wakes
                    # the worker at once); claimed items are retried when their lease ends.
                    outage += 1
                    wait = min(poll * 2**outage, OUTAGE_BACKOFF_MAX_SECONDS)
                    log.warning(
                        "database unavailable; outbox worker waits",
                        retry_in=wait,
                        error=f"{type(exc).__name__}: {exc}"[:300],
                    )
            waiters = [asyncio.ensure_future(signal.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()


@contextlib.asynccontextmanager
async def running_worker(ctx: AppContext, **options: Any) -> Any:
    """Run a worker in the background for the duration of the block."""
    worker = Worker(ctx, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop), name="tradetalk-outbox-worker")
    try:
        yield worker
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=30)
        except TimeoutError:
            task.cancel()
        await worker.close()
