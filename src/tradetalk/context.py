"""What one running app shares between requests and jobs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tradetalk.attachments.runtime import AttachmentRuntime
from tradetalk.config import Settings
from tradetalk.db import Database
from tradetalk.kit.clock import Clock, SystemClock
from tradetalk.kit.ratelimit import RateLimiter
from tradetalk.protection.detector import Detector, DetectorConfig
from tradetalk.protection.policy import Action, full_policy
from tradetalk.realtime.broker import Broker, MemoryBroker


def build_detector(settings: Settings) -> Detector:
    """The shield configured from settings (region, the operator's own domains and addresses)."""
    return Detector(
        DetectorConfig(
            default_region=settings.shield_region,
            allowed_domains=frozenset(settings.shield_allowed_domains),
            allowed_emails=frozenset(settings.shield_allowed_emails),
            history_window=settings.shield_history,
        )
    )


def _broker(settings: Settings) -> Broker:
    """In process by default; through Redis when it is configured (several app nodes)."""
    if settings.redis_url:
        from tradetalk.realtime.redis_broker import RedisBroker

        return RedisBroker(settings.redis_url, prefix=settings.redis_prefix)
    return MemoryBroker()


@dataclass
class AppContext:
    """Settings, database, clock, broker and limiter of one app instance."""

    settings: Settings
    db: Database
    clock: Clock
    broker: Broker
    limiter: RateLimiter
    detector: Detector
    shield_policy: dict[str, Action]
    attachments: AttachmentRuntime
    # Set after a commit that queued side effects, so the outbox worker wakes at once.
    outbox_signal: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> AppContext:
        """Wire the parts for these settings (engines connect lazily)."""
        detector = build_detector(settings)
        return cls(
            settings=settings,
            db=Database(settings),
            clock=clock or SystemClock(),
            broker=_broker(settings),
            limiter=RateLimiter(
                enabled=settings.rate_limits,
                redis_url=settings.redis_url,
                redis_prefix=settings.redis_prefix,
            ),
            detector=detector,
            shield_policy=full_policy(settings.shield_policy),
            # File names and text read from images go through the same shield as messages.
            attachments=AttachmentRuntime.build(settings, contact_scanner=detector.scan),
        )

    async def start(self) -> None:
        """Connect what needs connecting."""
        await self.broker.start()
        await self.attachments.start(self)

    async def close(self) -> None:
        """Release connections."""
        await self.attachments.close()
        await self.broker.stop()
        await self.db.dispose()
