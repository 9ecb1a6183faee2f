"""Per-user and per-IP rate limits (the `limits` library; Redis-backed when configured)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from tradetalk.errors import RateLimited


class RateLimiter:
    """Counts hits in moving windows; shared across nodes when Redis is configured."""

    def __init__(
        self, *, enabled: bool, redis_url: str | None = None, redis_prefix: str = "tradetalk"
    ) -> None:
        self.enabled = enabled
        storage: Storage
        if redis_url:
            uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
            # Under the deployment's own prefix, so that two deployments (or test runs) sharing
            # one Redis neither count each other's hits nor wipe each other's counters on reset.
            storage = RedisStorage(
                uri, implementation="redispy", key_prefix=f"{redis_prefix}:ratelimit"
            )
        else:
            storage = MemoryStorage()
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)

    async def hit(self, item: RateLimitItem, *key: str, what: str) -> None:
        """Count one hit, or raise RateLimited with Retry-After when the window is full."""
        if not self.enabled:
            return
        if await self._strategy.hit(item, *key):
            return
        stats = await self._strategy.get_window_stats(item, *key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"Too many {what}; try again in {retry_after} seconds.",
            retry_after_seconds=retry_after,
        )

    async def reset(self) -> None:
        """Forget every counter (tests and demo resets)."""
        await self._storage.reset()


def per_minute(count: int) -> RateLimitItem:
    """A limit of `count` hits per minute."""
    return RateLimitItemPerMinute(count)


def per_hour(count: int) -> RateLimitItem:
    """A limit of `count` hits per hour."""
    return RateLimitItemPerHour(count)


def per_day(count: int) -> RateLimitItem:
    """A limit of `count` hits per day."""
    return RateLimitItemPerDay(count)
