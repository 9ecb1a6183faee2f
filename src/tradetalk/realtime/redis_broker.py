"""Fan-out across app nodes through Redis pub/sub.

One channel per user (`{prefix}:events:{user_id}`), subscribed by a node only while one of its
clients listens to that user, all on ONE pub/sub connection per node: 1,000 sockets cost 1,000
channel entries in Redis, not 1,000 connections, and a node receives only its own users' frames.
A frame is delivered to local subscribers at once and published for the other nodes, tagged
with the publishing node so that it does not come back twice.

When the pub/sub connection drops (Redis restarted, the connection was killed), the node
reconnects with backoff and subscribes again; each subscription is then told to catch up from
the database, since frames published in between were lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tradetalk.realtime.broker import Delivery, LocalFanout, Subscription

log = structlog.get_logger("tradetalk.realtime")

SUBSCRIBE_BATCH = 500  # channels per SUBSCRIBE command
PING_EVERY_SECONDS = 5.0  # an idle pub/sub connection is probed this often...
MISSED_PINGS = 3  # ...and given up after this many probes without an answer
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0


class RedisBroker:
    """Publishes through Redis so that every node's subscribers receive every frame."""

    def __init__(self, url: str, *, prefix: str = "tradetalk") -> None:
        self.node_id = uuid.uuid4().hex[:12]
        self.client_name = f"tradetalk-events-{self.node_id}"  # in Redis's CLIENT LIST
        self._channel_prefix = f"{prefix}:events:"
        self.fanout = LocalFanout(on_change=self._on_change)
        self._publisher = Redis.from_url(url, decode_responses=True)
        # The pub/sub connection fails loudly instead of reconnecting by itself: reconnecting
        # is this class's job, because it must tell subscribers to catch up afterwards.
        self._subscriber = Redis.from_url(
            url,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=5,
            client_name=self.client_name,
        )
        self._pubsub: PubSub | None = None
        self._sent: set[str] = set()  # user ids whose SUBSCRIBE went out on this connection
        self._confirmed: set[str] = set()  # ... and which Redis confirmed
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = asyncio.Event()
        self.reconnects = 0

    def channel(self, user_id: str) -> str:
        """The channel carrying one user's frames."""
        return self._channel_prefix + user_id

    # -- publishing ---------------------------------------------------------------------

    async def publish(self, deliveries: Iterable[Delivery]) -> None:
        """Deliver locally at once and send the frames to the other nodes."""
        batch = list(deliveries)
        for delivery in batch:
            self.fanout.deliver(delivery)
        if not batch:
            return
        try:
            async with self._publisher.pipeline(transaction=False) as pipe:
                for delivery in batch:
                    event_id = "-" if delivery.event_id is None else str(delivery.event_id)
                    pipe.publish(
                        self.channel(delivery.user_id),
                        f"{self.node_id} {event_id} {delivery.frame}",
                    )
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Committed events are in the database: remote clients catch up on their next
            # event or reconnection. Only typing signals are lost, which is acceptable.
            log.warning("redis publish failed", error=str(exc), frames=len(batch))

    # -- subscribing --------------------------------------------------------------------

    def subscribe(self, user_id: str, max_pending: int = 1000) -> Subscription:
        """Open a subscription; `ready` is set once Redis confirms the user's channel."""
        subscription = Subscription(user_id=user_id, max_pending=max_pending)
        self.fanout.add(subscription)
        if user_id in self._confirmed:
            subscription.ready.set()
        return subscription

    def _on_change(self, user_id: str, present: bool) -> None:
        self._dirty.set()

    async def _sync_channels(self, pubsub: PubSub) -> None:
        """Keep the connection's channels equal to the users with local subscribers."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            wanted = self.fanout.users()
            add = sorted(wanted - self._sent)
            drop = sorted(self._sent - wanted)
            for start in range(0, len(add), SUBSCRIBE_BATCH):
                chunk = add[start : start + SUBSCRIBE_BATCH]
                self._sent.update(chunk)  # before sending: the confirmation may come at once
                await pubsub.subscribe(*(self.channel(user_id) for user_id in chunk))
            for start in range(0, len(drop), SUBSCRIBE_BATCH):
                chunk = drop[start : start + SUBSCRIBE_BATCH]
                self._sent.difference_update(chunk)
                self._confirmed.difference_update(chunk)
                await pubsub.unsubscribe(*(self.channel(user_id) for user_id in chunk))

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel: str = message["channel"] or ""
        if not channel.startswith(self._channel_prefix):
            return
        user_id = channel[len(self._channel_prefix) :]
        if kind == "message":
            node, event_id, frame = str(message["data"]).split(" ", 2)
            if node == self.node_id:
                return  # delivered locally when it was published
            number = None if event_id == "-" else int(event_id)
            self.fanout.deliver(Delivery(user_id, number, frame))
        elif kind == "subscribe" and user_id in self._sent:
            self._confirmed.add(user_id)
            for subscription in self.fanout.subscribers(user_id):
                if subscription.ready.is_set():
                    # Live again after an outage (or after its stream stopped waiting):
                    # whatever was published meanwhile must come from the database.
                    subscription.signal_gap()
                subscription.ready.set()

    async def _listen(self, pubsub: PubSub) -> None:
        idle = 0
        while True:
            message = await pubsub.get_message(timeout=PING_EVERY_SECONDS)
            if message is None:
                idle += 1
                if idle > MISSED_PINGS:
                    raise ConnectionError("Redis stopped answering on the pub/sub connection")
                await pubsub.ping()
                continue
            idle = 0
            self._handle(message)

    async def _run(self) -> None:
        """Hold the pub/sub connection: connect, subscribe, listen; on failure, start over."""
        backoff = BACKOFF_FIRST_SECONDS
        control = self._channel_prefix + "~node:" + self.node_id
        while True:
            pubsub = self._subscriber.pubsub()
            self._pubsub = pubsub
            self._sent.clear()
            self._confirmed.clear()
            tasks: list[asyncio.Task[None]] = []
            try:
                # The node's own channel makes the connection "subscribed" from the start, so
                # that later (un)subscribes only write and never read from it.
                await pubsub.subscribe(control)
                self.connected.set()
                self._dirty.set()
                tasks = [
                    asyncio.create_task(self._sync_channels(pubsub)),
                    asyncio.create_task(self._listen(pubsub)),
                ]
                backoff = BACKOFF_FIRST_SECONDS
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:
                    task.cancel()
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
                for outcome in outcomes:
                    if isinstance(outcome, Exception):
                        raise outcome  # what ended it
            except (RedisError, OSError) as exc:
                log.warning("redis pub/sub connection lost", error=str(exc), retry_in=backoff)
            finally:
                self.connected.clear()
                for task in tasks:
                    task.cancel()
                with contextlib.suppress(Exception):
                    await asyncio.gather(*tasks, return_exceptions=True)
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            self.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background; subscriptions made meanwhile become live once it is up."""
        self._tasks.append(asyncio.create_task(self._run()))

    async def stop(self) -> None:
        """Disconnect."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self._publisher.aclose()
        await self._subscriber.aclose()
