"""SIGKILL `tradetalk worker` in the middle of delivering emails (to a real SMTP server) and
webhooks (to a real HTTP receiver), restart it, and check that nothing is lost.

Delivery is at least once: a worker killed after the far side took an item but before the
outbox row was marked done performs it again once its lease runs out. What the test holds the
worker to is what a receiver needs to dedupe: every item arrives, each repeat carries the same
idempotency key (Message-ID, webhook-id) with the same content, and only items in flight at a
kill can repeat. Run with `-s` to see the figures."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks.webhooks import Webhook

from tests.reliability.conftest import (
    Laps,
    Party,
    Processes,
    Thread,
    base_env,
    free_port,
    make_threads,
    user_client,
)
from tradetalk.config import async_database_url

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"reliability-webhook-secret-32byt").decode()
THREADS = 12
SENDS_PER_THREAD = 12  # 12 x 12 = 144 messages, each a webhook and (batched) in an email
BATCH = 10  # TRADETALK_WORKER_BATCH_SIZE: at most this many items are in flight at a kill
LEASE_SECONDS = 5  # the smallest lease the settings allow: a killed worker's items come back
RECEIVER_DELAY = 0.03  # seconds each receiver holds a delivery after taking it
# Kill the worker once this many webhooks have arrived and the named receiver is holding a
# delivery: once in the middle of an email, once in the middle of a webhook.
KILLS = (("email", 25), ("webhook", 80))
DRAIN_TIMEOUT = 90.0


# --- the far sides ------------------------------------------------------------------------


@dataclass
class Received:
    """What one receiver took, in order, keyed by idempotency key; and what it is doing now."""

    items: list[tuple[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str, content: Any) -> None:
        with self.lock:
            self.items.append((key, content))
            self.in_flight += 1

    def done(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def by_key(self) -> dict[str, list[Any]]:
        with self.lock:
            grouped: dict[str, list[Any]] = defaultdict(list)
            for key, content in self.items:
                grouped[key].append(content)
            return grouped

    def __len__(self) -> int:
        with self.lock:
            return len(self.items)


def email_content(message: EmailMessage) -> dict[str, str]:
    """What a reader sees of an email (MIME boundaries differ between sends of the same)."""
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    return {
        **{name: str(message[name]) for name in ("From", "To", "Subject", "Date", "Reply-To")},
        "text": plain.get_content(),  # type: ignore[attr-defined]
        "html": html.get_content(),  # type: ignore[attr-defined]
    }


class _MailSink:
    def __init__(self, box: Received) -> None:
        self.box = box

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        content = email_content(message) | {"rcpt": ",".join(envelope.rcpt_tos)}
        # Taken (as far as the sender can know, delivered) before the 250 goes back: a
        # sender killed now never hears of it and sends it again.
        self.box.take(str(message["Message-ID"]), content)
        try:
            await asyncio.sleep(RECEIVER_DELAY)
        finally:
            self.box.done()
        return "250 OK"


@pytest.fixture
def mail_sink() -> Iterator[tuple[int, Received]]:
    """A real SMTP server (aiosmtpd) on a loopback port."""
    box = Received()
    port = free_port()
    controller = Controller(_MailSink(box), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


@pytest.fixture
def webhook_sink() -> Iterator[tuple[int, Received]]:
    """A real HTTP server taking webhooks; checks each signature (Standard Webhooks)."""
    box = Received()
    verifier = Webhook(WEBHOOK_SECRET)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                verifier.verify(body, headers)
            except Exception:
                self.send_response(400)
                self.end_headers()
                return
            box.take(headers["webhook-id"], body)
            try:
                time.sleep(RECEIVER_DELAY)
                self.send_response(204)
                self.end_headers()
            finally:
                box.done()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webhook-sink", daemon=True)
    thread.start()
    try:
        yield server.server_address[1], box
    finally:
        server.shutdown()
        server.server_close()


# --- the test -----------------------------------------------------------------------------


async def outbox_rows(database_url: str) -> list[dict[str, Any]]:
    """The outbox as stored, read straight from the database."""
    engine = create_async_engine(async_database_url(database_url))
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text("SELECT id, kind, status, attempts, payload FROM outbox ORDER BY id")
            )
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


async def wait_drained(database_url: str) -> list[dict[str, Any]]:
    """Wait until no email, webhook or unread-notice is pending; returns the outbox."""
    async with asyncio.timeout(DRAIN_TIMEOUT):
        while True:
            rows = await outbox_rows(database_url)
            if not any(
                row["status"] == "pending"
                for row in rows
                if row["kind"] in ("email", "webhook", "notify_unread")
            ):
                return rows
            await asyncio.sleep(0.5)


async def test_a_killed_worker_loses_nothing_and_repeats_only_by_key(
    fresh_database: str,
    processes: Processes,
    tmp_path: Path,
    mail_sink: tuple[int, Received],
    webhook_sink: tuple[int, Received],
) -> None:
    smtp_port, mailbox = mail_sink
    webhook_port, hooks = webhook_sink
    env = base_env(
        tmp_path,
        fresh_database,
        TRADETALK_WORKER_EMBEDDED="false",
        TRADETALK_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}?starttls=false",
        TRADETALK_WEBHOOK_URL=f"http://127.0.0.1:{webhook_port}/hooks",
        TRADETALK_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TRADETALK_NOTIFY_DELAY_SECONDS="0",
        TRADETALK_MAIL_DOMAIN="tradetalk.test",
        TRADETALK_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
        TRADETALK_WORKER_POLL_SECONDS="0.2",
        TRADETALK_WORKER_BATCH_SIZE=str(BATCH),
    )
    lap = Laps()
    server = processes.server("serve", env)
    await server.wait_ready()
    # Started now, it is up by the time the first messages come (it polls the outbox).
    worker = processes.worker("worker-0", env)
    threads = await make_threads(server.url, THREADS, "worker")

    async def email_at_once(party: Party) -> None:
        async with user_client(server.url, party) as client:
            response = await client.put(
                "/v1/me/notification-preferences", json={"email": "immediately"}
            )
            assert response.status_code == 200, response.text

    await asyncio.gather(*(email_at_once(p) for thread in threads for p in thread.parties))
    lap("setup")

    sent: dict[int, tuple[Thread, Party, str]] = {}  # message id -> thread, sender, body
    # One party of each thread talks (buyers in half, sellers in the other half) and the other
    # never answers: a reply would mark the thread read and rightly stop the emails.
    talkers = [(t, t.buyer if i % 2 else t.seller) for i, t in enumerate(threads)]

    async def send_all() -> None:
        # Rounds of one message per party, so emails and webhooks keep coming while the
        # worker is killed and restarted.
        async with AsyncExitStack() as stack:
            clients = {
                party.id: await stack.enter_async_context(user_client(server.url, party))
                for _, party in talkers
            }

            async def send(thread: Thread, party: Party, n: int) -> None:
                body = f"Could you add a lens cap? note {party.id} {n:02d}"
                response = await clients[party.id].post(
                    f"/v1/conversations/{thread.conversation_id}/messages",
                    json={"body": body, "client_message_id": f"{party.id}-{n}"},
                )
                assert response.status_code == 201, response.text
                sent[response.json()["id"]] = (thread, party, body)

            for n in range(SENDS_PER_THREAD):
                await asyncio.gather(*(send(thread, party, n) for thread, party in talkers))
                await asyncio.sleep(0.1)

    kills: list[dict[str, Any]] = []
    sender = asyncio.create_task(send_all())
    try:
        for number, (channel, threshold) in enumerate(KILLS, start=1):
            receiver = mailbox if channel == "email" else hooks
            async with asyncio.timeout(60):
                while not (len(hooks) >= threshold and receiver.in_flight):
                    assert worker.alive, worker.output()
                    await asyncio.sleep(0.002)
            in_flight = {
                "emails_in_flight": mailbox.in_flight,
                "webhooks_in_flight": hooks.in_flight,
            }
            worker.kill()
            lap(f"kill {number}")
            kills.append(
                {
                    "during": channel,
                    "webhooks_received": len(hooks),
                    "emails_received": len(mailbox),
                    **in_flight,
                }
            )
            await asyncio.sleep(0.5)
            worker = processes.worker(f"worker-{number}", env)
        await sender
    finally:
        sender.cancel()
    lap("sent")
    rows = await wait_drained(fresh_database)
    lap("drained")
    await asyncio.sleep(1.0)  # anything still to come would come now
    assert worker.alive, worker.output()

    # --- what the database says should have gone out ---------------------------------------
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    for kind in ("email", "webhook", "notify_unread"):
        stuck = [r for r in by_kind[kind] if r["status"] != "done"]
        assert not stuck, f"{kind} items not done: {stuck[:3]}"
    expected_hooks = {f"evt_{row['id']}" for row in by_kind["webhook"]}
    expected_mail = {json.loads(row["payload"])["message_id"] for row in by_kind["email"]}
    assert len(sent) == THREADS * SENDS_PER_THREAD

    # --- webhooks: every one arrived; repeats only by webhook-id, byte for byte ----------
    hook_bodies = hooks.by_key()
    assert set(hook_bodies) == expected_hooks, "a webhook was lost (or one nobody queued came)"
    for key, bodies in hook_bodies.items():
        assert all(body == bodies[0] for body in bodies), f"{key} came with different bodies"
    announced = {
        json.loads(bodies[0])["data"]["id"]
        for bodies in hook_bodies.values()
        if json.loads(bodies[0])["type"] == "message.created"
    }
    assert announced == set(sent), "a message.created webhook is missing"

    # --- emails: every one arrived; repeats only by Message-ID, same content -------------
    mail = mailbox.by_key()
    assert set(mail) == expected_mail, "an email was lost (or one nobody queued came)"
    for key, copies in mail.items():
        assert all(copy == copies[0] for copy in copies), f"{key} came with different content"
    # End to end: every message reached its recipient in some email.
    text_for: dict[str, str] = defaultdict(str)
    for copies in mail.values():
        text_for[copies[0]["rcpt"]] += copies[0]["text"]
    for thread, party, body in sent.values():
        recipient = thread.seller if party is thread.buyer else thread.buyer
        assert body in text_for[f"{recipient.id}@example.com"], f"no email told of {body!r}"

    # --- repeats: only items in flight at a kill can come twice ---------------------------
    hook_repeats = sum(len(bodies) - 1 for bodies in hook_bodies.values())
    mail_repeats = sum(len(copies) - 1 for copies in mail.values())
    assert hook_repeats + mail_repeats <= BATCH * len(kills), "repeats beyond the in-flight items"

    figures = {
        "database": fresh_database.split(":", 1)[0],
        "messages": len(sent),
        "worker_kills": len(kills),
        "kills": kills,
        "webhooks_queued": len(expected_hooks),
        "webhook_deliveries_received": len(hooks),
        "webhook_repeats_same_id": hook_repeats,
        "webhooks_lost": 0,
        "emails_queued": len(expected_mail),
        "email_deliveries_received": len(mailbox),
        "email_repeats_same_message_id": mail_repeats,
        "emails_lost": 0,
        "max_attempts_of_an_item": max(row["attempts"] for row in rows),
        "phase_seconds": lap.seconds,
    }
    print(f"\nworker-crash figures: {json.dumps(figures)}")
