"""Starting and stopping what notifications run in the background of a process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from tradetalk.context import AppContext
from tradetalk.notifications.smtp_listener import start_listener
from tradetalk.notifications.worker import Worker, running_worker


@asynccontextmanager
async def notification_services(
    ctx: AppContext, *, worker: bool, smtp_listener: bool = True
) -> AsyncIterator[Worker | None]:
    """Run the outbox worker (when asked) and the SMTP reply listener (when configured)."""
    async with AsyncExitStack() as stack:
        running = await stack.enter_async_context(running_worker(ctx)) if worker else None
        if smtp_listener and ctx.settings.smtp_listen:
            server = await start_listener(ctx, ctx.settings.smtp_listen)
            stack.push_async_callback(server.wait_closed)
            stack.callback(server.close)
        yield running
