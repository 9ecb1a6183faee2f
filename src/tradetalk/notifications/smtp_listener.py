"""An optional SMTP listener (aiosmtpd) that takes replies to relay addresses.

It accepts only `reply+...@RELAY_DOMAIN` recipients and queues each message exactly as
`POST /v1/inbound/email` does; put it behind your MX (or point the relay domain's MX at it)."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from tradetalk.context import AppContext
from tradetalk.db import unit_of_work
from tradetalk.notifications import tokens
from tradetalk.notifications.inbound import queue_inbound

log = structlog.get_logger("tradetalk.smtp")


class RelayHandler:
    """aiosmtpd handler: relay recipients only, messages go to the outbox."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        domain = self.ctx.settings.effective_relay_domain
        if tokens.parse_relay_address(address, domain) is None:
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        if raw is None:
            content = envelope.content or b""
            raw = content.encode() if isinstance(content, str) else content
        try:
            async with unit_of_work(self.ctx) as uow:
                queue_inbound(uow, raw, envelope.rcpt_tos)
        except Exception:
            log.exception("could not queue an inbound email")
            return "451 4.3.0 Try again later"
        return "250 2.0.0 Queued"


def parse_listen(value: str) -> tuple[str, int]:
    """ "host:port" -> (host, port)."""
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


async def start_listener(ctx: AppContext, listen: str) -> asyncio.Server:
    """Listen for SMTP on "host:port" in the running event loop."""
    host, port = parse_listen(listen)
    handler = RelayHandler(ctx)
    loop = asyncio.get_running_loop()
    domain = ctx.settings.effective_relay_domain

    def protocol() -> Any:
        return SMTP(
            handler,
            hostname=domain,
            data_size_limit=ctx.settings.inbound_max_bytes,
            loop=loop,
        )

    server = await loop.create_server(protocol, host, port)
    log.info("smtp listener started", host=host, port=port)
    return server
