"""Real servers for notification tests: an SMTP server (aiosmtpd) and a webhook receiver."""

from __future__ import annotations

import base64
import email
import email.policy
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.fixtures.processes import free_port
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock
from tradetalk.notifications.worker import Worker

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"operator-webhook-secret-32-bytes").decode()
RELAY_DOMAIN = "relay.tradetalk.test"


@dataclass
class Mailbox:
    """Everything the test SMTP server received."""

    port: int = 0
    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [message for _, message in self.received]

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for e, m in self.received if address in e.rcpt_tos]


class _Collect:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.box.lock:
            self.box.received.append((envelope, message))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on a free loopback port, for the length of the test."""
    box = Mailbox(port=free_port())
    controller = Controller(_Collect(box), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Receiver:
    """The operator's webhook endpoint: records requests; can be told to fail."""

    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    failures_left: int = 0
    url: str = ""

    def handle(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), request.get_data()))
        if self.failures_left:
            self.failures_left -= 1
            return Response("down for maintenance", status=503)
        return Response("ok", status=200)

    def ids(self) -> list[str]:
        return [headers["Webhook-Id"] for headers, _ in self.requests]


@pytest.fixture
def receiver(httpserver: HTTPServer) -> Receiver:
    """A real HTTP server that takes webhooks at /hooks."""
    hooks = Receiver(url=httpserver.url_for("/hooks"))
    httpserver.expect_request("/hooks", method="POST").respond_with_handler(hooks.handle)
    return hooks


@pytest.fixture
def settings(settings: Settings, mailbox: Mailbox, receiver: Receiver, tmp_path: Any) -> Settings:
    return settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{mailbox.port}?starttls=false",
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(WEBHOOK_SECRET),
            "relay_domain": RELAY_DOMAIN,
            "mail_dir": tmp_path / "mail",
            "notify_delay_seconds": 300,
            "outbox_backoff_seconds": 10.0,
        }
    )


@dataclass(frozen=True)
class FakeFinding:
    kind: str


def fake_shield(text: str) -> list[FakeFinding]:
    """Stands in for tradetalk.protection's detector: flags obvious email addresses."""
    return [FakeFinding("email")] if "@gmail" in text.lower() else []


@pytest_asyncio.fixture
async def worker(app: FastAPI) -> AsyncIterator[Worker]:
    """An outbox worker on the app's context (tests call run_once)."""
    outbox_worker = Worker(app.state.ctx, shield=fake_shield)
    yield outbox_worker
    await outbox_worker.close()


class Pass:
    """Moves the clock and lets the worker do what is due."""

    def __init__(self, clock: ManualClock, worker: Worker) -> None:
        self.clock = clock
        self.worker = worker

    async def __call__(self, **delta: float) -> int:
        if delta:
            self.clock.advance(timedelta(**delta))
        return await self.worker.run_once()


@pytest.fixture
def after(clock: ManualClock, worker: Worker) -> Pass:
    """`await after(minutes=5)`: advance the clock, then run the worker."""
    return Pass(clock, worker)
