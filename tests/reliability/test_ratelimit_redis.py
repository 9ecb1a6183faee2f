"""Rate limits counted in Redis: shared by the nodes of one installation, private to it."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import require_service
from tradetalk.errors import RateLimited
from tradetalk.kit.ratelimit import RateLimiter, per_minute

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefixes() -> tuple[str, str]:
    require_service("Redis", "127.0.0.1", 6379)
    run = uuid.uuid4().hex[:8]
    return f"tt-test-{run}-a", f"tt-test-{run}-b"


async def test_nodes_of_one_installation_share_their_counters(prefixes: tuple[str, str]) -> None:
    node_a = RateLimiter(enabled=True, redis_url=REDIS_URL, redis_prefix=prefixes[0])
    node_b = RateLimiter(enabled=True, redis_url=REDIS_URL, redis_prefix=prefixes[0])
    try:
        await node_a.hit(per_minute(2), "send", "u1", what="messages")
        await node_b.hit(per_minute(2), "send", "u1", what="messages")
        with pytest.raises(RateLimited) as refused:
            await node_a.hit(per_minute(2), "send", "u1", what="messages")
        assert int(refused.value.headers["Retry-After"]) >= 1
    finally:
        await node_a.reset()


async def test_another_installation_on_the_same_redis_neither_counts_nor_resets_ours(
    prefixes: tuple[str, str],
) -> None:
    ours = RateLimiter(enabled=True, redis_url=REDIS_URL, redis_prefix=prefixes[0])
    theirs = RateLimiter(enabled=True, redis_url=REDIS_URL, redis_prefix=prefixes[1])
    try:
        await ours.hit(per_minute(1), "send", "u1", what="messages")
        # The same user id in another installation is another person with their own budget.
        await theirs.hit(per_minute(1), "send", "u1", what="messages")
        await theirs.reset()
        with pytest.raises(RateLimited):
            await ours.hit(per_minute(1), "send", "u1", what="messages")
    finally:
        await ours.reset()
        await theirs.reset()
