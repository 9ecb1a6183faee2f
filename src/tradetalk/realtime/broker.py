"""Fan-out of committed events to the clients connected to this process.

A broker carries `Delivery` frames from whoever publishes them (the unit of work after commit,
the typing endpoint) to every subscription of the recipient, on this node and, with Redis, on
the others. Brokers are best effort: durable events are in the database, and a stream that
notices a gap (or is told one may exist) reads what it missed from there.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    """One frame for one user; `event_id` is None for ephemeral frames (typing, errors)."""

    user_id: str
    event_id: int | None
    frame: str


# Markers a subscription's queue can carry besides frames (compared by identity).
GAP = Delivery("", None, "")  # live delivery may have missed something: read the database
STOP = Delivery("", None, "")  # the client went away: end the stream


class Broker(Protocol):
    """Publishes frames and hands them to local subscribers."""

    async def publish(self, deliveries: Iterable[Delivery]) -> None: ...

    def subscribe(self, user_id: str, max_pending: int = 1000) -> Subscription: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(eq=False)
class Subscription:
    """A bounded queue of frames for one connected client of one user.

    `ready` is set once frames published from now on will reach this subscription (at once in
    process; after Redis confirms the channel otherwise), so that a stream can subscribe first,
    then read the database, and miss nothing in between.
    """

    user_id: str
    max_pending: int
    queue: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False
    _gap_pending: bool = False
    _owner: LocalFanout | None = None

    def offer(self, delivery: Delivery) -> None:
        """Queue a frame; a client that stops reading is marked overflowed, never grows."""
        if self.overflowed:
            return
        if self.queue.qsize() >= self.max_pending:
            self.overflowed = True
            # Wake a stream waiting on an empty queue (cannot happen when full, but cheap).
            self.queue.put_nowait(STOP)
            return
        self.queue.put_nowait(delivery)

    def signal_gap(self) -> None:
        """Ask the stream to catch up from the database (at most one request pending)."""
        if not self._gap_pending and not self.overflowed:
            self._gap_pending = True
            self.queue.put_nowait(GAP)

    def gap_handled(self) -> None:
        """The stream took the gap request; a later one queues again."""
        self._gap_pending = False

    def interrupt(self) -> None:
        """End the stream reading this subscription (its client disconnected)."""
        self.queue.put_nowait(STOP)

    def close(self) -> None:
        """Stop receiving frames."""
        if self._owner is not None:
            self._owner.remove(self)
            self._owner = None


class LocalFanout:
    """The subscribers of this process, by user."""

    def __init__(self, on_change: Callable[[str, bool], None] | None = None) -> None:
        self._by_user: dict[str, set[Subscription]] = defaultdict(set)
        # Called with (user_id, True) for a user's first subscriber, (user_id, False) after
        # the last one left; the Redis broker (un)subscribes that user's channel.
        self._on_change = on_change

    def add(self, subscription: Subscription) -> None:
        """Register a subscriber."""
        subscription._owner = self
        subscribers = self._by_user[subscription.user_id]
        first = not subscribers
        subscribers.add(subscription)
        if first and self._on_change is not None:
            self._on_change(subscription.user_id, True)

    def remove(self, subscription: Subscription) -> None:
        """Forget a subscriber."""
        subscribers = self._by_user.get(subscription.user_id)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._by_user[subscription.user_id]
            if self._on_change is not None:
                self._on_change(subscription.user_id, False)

    def deliver(self, delivery: Delivery) -> None:
        """Hand a frame to every local subscriber of its user."""
        for subscription in tuple(self._by_user.get(delivery.user_id, ())):
            subscription.offer(delivery)

    def subscribers(self, user_id: str) -> tuple[Subscription, ...]:
        """The local subscriptions of one user."""
        return tuple(self._by_user.get(user_id, ()))

    def users(self) -> set[str]:
        """The users with at least one local subscriber."""
        return set(self._by_user)

    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return sum(len(subs) for subs in self._by_user.values())


class MemoryBroker:
    """The embedded broker: publishing hands frames straight to this process's subscribers."""

    def __init__(self) -> None:
        self.fanout = LocalFanout()

    async def publish(self, deliveries: Iterable[Delivery]) -> None:
        """Deliver frames to local subscribers."""
        for delivery in deliveries:
            self.fanout.deliver(delivery)

    def subscribe(self, user_id: str, max_pending: int = 1000) -> Subscription:
        """Open a subscription for one user's frames (live at once)."""
        subscription = Subscription(user_id=user_id, max_pending=max_pending)
        subscription.ready.set()
        self.fanout.add(subscription)
        return subscription

    async def start(self) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Nothing to disconnect."""
