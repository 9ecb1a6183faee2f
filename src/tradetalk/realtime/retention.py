"""The background job that keeps the event log to its retention period."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from tradetalk.db import unit_of_work
from tradetalk.realtime import service as realtime_service

if TYPE_CHECKING:
    from tradetalk.context import AppContext

log = structlog.get_logger("tradetalk.realtime")

PRUNE_EVERY_SECONDS = 3600.0
FIRST_PRUNE_AFTER_SECONDS = 60.0  # not in the middle of start-up


async def run_pruner(ctx: AppContext, every: float = PRUNE_EVERY_SECONDS) -> None:
    """Prune old events now and then, until cancelled (every node may run it: it is idempotent)."""
    await asyncio.sleep(min(every, FIRST_PRUNE_AFTER_SECONDS))
    while True:
        try:
            async with unit_of_work(ctx) as uow:
                pruned = await realtime_service.do_prune_events(uow)
            if pruned:
                log.info("events pruned", count=pruned)
        except Exception:
            log.exception("pruning events failed")
        await asyncio.sleep(every)
