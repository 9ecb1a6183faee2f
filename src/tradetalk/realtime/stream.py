"""One client's event stream: what it missed from the log, then live frames, without gaps.

The order of operations is what makes it gapless: subscribe first, then read the log, then
pass on live frames whose ids follow the last one sent. A live frame that skips ids (a
publisher on another node was slower, Redis dropped a message) or a broker's gap signal sends
the stream back to the log; frames already sent are dropped by id.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from tradetalk.db import read_session
from tradetalk.realtime import events
from tradetalk.realtime import repository as events_repo
from tradetalk.realtime.broker import GAP, STOP, Delivery, Subscription
from tradetalk.realtime.events import SignalType

if TYPE_CHECKING:
    from tradetalk.context import AppContext

log = structlog.get_logger("tradetalk.realtime")

# How long a new stream waits for the broker to confirm its subscription; past that it goes on
# and the broker's gap signal (sent once the subscription is live) makes it catch up.
READY_TIMEOUT_SECONDS = 5.0
# Frames taken from the queue in one go.
BATCH = 256


class SlowConsumer(Exception):
    """The client did not keep up with its frames."""


@dataclass(frozen=True, slots=True)
class Catchup:
    """What reading the log produced: frames to send, and whether it had to give up."""

    frames: list[str]
    resync: bool


class EventStream:
    """The frames one connection of one user should receive, in order."""

    def __init__(self, ctx: AppContext, user_id: str, after: int | None) -> None:
        self.ctx = ctx
        self.user_id = user_id
        self._after = after
        self.position = 0  # the id of the last durable event this client has
        self._subscription: Subscription | None = None
        # Set when the token must be checked again before anything more is sent: the user's
        # tokens were revoked, or live delivery had a gap (which may have swallowed that news).
        self.token_check_due = False

    @property
    def subscription(self) -> Subscription:
        """The broker subscription (after `open`)."""
        assert self._subscription is not None, "open() the stream first"
        return self._subscription

    async def open(self) -> list[str]:
        """Subscribe, then return what the client missed (or a resync) and the ready frame."""
        settings = self.ctx.settings
        subscription = self.ctx.broker.subscribe(self.user_id, settings.realtime_queue_max)
        self._subscription = subscription
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await subscription.ready.wait()
        except TimeoutError:
            log.warning("broker subscription not confirmed; reading the log anyway")
        # From here on a (late) broker confirmation means "catch up", see RedisBroker.
        subscription.ready.set()
        frames = await self._read_log(self._after, opening=True)
        frames.append(events.signal(SignalType.READY, {"last_event_id": self.position}))
        return frames

    async def next_batch(self, wait: float) -> list[str] | None:
        """The next frames to send; [] when nothing came within `wait` seconds, None once stopped.

        Raises SlowConsumer when the client let too many frames pile up.
        """
        subscription = self.subscription
        queue = subscription.queue
        try:
            async with asyncio.timeout(wait):
                first = await queue.get()
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < BATCH and not queue.empty():
            batch.append(queue.get_nowait())
        if subscription.overflowed:
            raise SlowConsumer
        frames: list[str] = []
        for delivery in batch:
            if delivery is STOP:
                return None
            if delivery is GAP:
                subscription.gap_handled()
                self.token_check_due = True
                frames += await self._read_log(self.position)
            elif delivery.event_id is None:
                if delivery.frame == events.TOKENS_REVOKED:
                    self.token_check_due = True
                else:
                    frames.append(delivery.frame)
            elif delivery.event_id <= self.position:
                continue  # already sent (replayed, or caught up past it)
            elif delivery.event_id == self.position + 1:
                frames.append(delivery.frame)
                self.position = delivery.event_id
            else:
                # Ids are reserved in commit order, so everything below this one is committed.
                frames += await self._read_log(self.position)
        return frames

    def push(self, frame: str) -> None:
        """Queue an ephemeral frame for this connection only (answers to its own frames)."""
        self.subscription.offer(Delivery(self.user_id, None, frame))

    def interrupt(self) -> None:
        """End the stream: its client went away."""
        self.subscription.interrupt()

    def close(self) -> None:
        """Unsubscribe."""
        if self._subscription is not None:
            self._subscription.close()

    async def _read_log(self, after: int | None, *, opening: bool = False) -> list[str]:
        """Frames of stored events after `after`; a resync frame when they cannot be had."""
        limit = self.ctx.settings.event_replay_limit
        async with read_session(self.ctx) as session:
            last = await events_repo.last_id(session, self.user_id)
            if after is None:
                self.position = max(self.position, last)
                return []
            if after > last:
                return self._resync(last, "ahead" if opening else "reset")
            if after == last:
                return []
            rows = await events_repo.after(session, self.user_id, after, limit + 1)
        expected = after + 1
        for row in rows:
            if row.id != expected:  # pruned: older than the retention period
                return self._resync(last, "expired")
            expected += 1
        if not rows:
            return self._resync(last, "expired")
        if len(rows) > limit:
            return self._resync(last, "too_many")
        self.position = rows[-1].id
        return [events.frame(row.id, row.type, row.data) for row in rows]

    def _resync(self, last: int, reason: str) -> list[str]:
        """Give up on replay: the client reloads its state, and the stream goes on from `last`."""
        self.position = last
        log.info("stream resync", user_id=self.user_id, reason=reason)
        return [events.signal(SignalType.RESYNC, {"last_event_id": last, "reason": reason})]
