"""The outbox worker: shared work, backoff, dead letters; standalone and demo-mode mail."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.cli.test_commands import free_port, running
from tests.fixtures.marketplace import Marketplace
from tests.notifications.conftest import Pass, Receiver, fake_shield
from tradetalk.config import Settings
from tradetalk.db import read_session, unit_of_work
from tradetalk.kit.clock import ManualClock
from tradetalk.notifications.models import OutboxItem
from tradetalk.notifications.worker import Worker, backoff, claim


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for attempt, nominal in ((1, 10), (2, 20), (3, 40), (6, 320)):
        delay = backoff(attempt, 10.0, rng).total_seconds()
        assert nominal * 0.75 <= delay <= nominal * 1.25
    assert backoff(40, 10.0, rng) <= timedelta(hours=6, minutes=90)


async def test_two_workers_share_the_work_and_never_do_an_item_twice(
    app: FastAPI, receiver: Receiver
) -> None:
    ctx = app.state.ctx
    async with unit_of_work(ctx) as uow:
        for n in range(12):
            uow.outbox("webhook", {"type": "test.event", "data": {"n": n}}, key=f"t{n}")
    ctx.settings = ctx.settings.model_copy(update={"worker_batch_size": 3})
    first, second = Worker(ctx, shield=fake_shield), Worker(ctx, shield=fake_shield)
    try:
        done = await asyncio.gather(first.run_once(), second.run_once())
    finally:
        await first.close()
        await second.close()
    assert sum(done) == 12
    assert len(receiver.requests) == 12
    assert len(set(receiver.ids())) == 12


async def test_claims_skip_items_another_worker_holds(
    app: FastAPI, settings: Settings, clock: ManualClock
) -> None:
    ctx = app.state.ctx
    async with unit_of_work(ctx) as uow:
        for n in range(4):
            uow.outbox("webhook", {"type": "t", "data": {}}, key=f"k{n}")
    lease = timedelta(minutes=2)
    if settings.is_sqlite:
        # One writer at a time: a claim is committed before the next can start.
        async with unit_of_work(ctx) as uow:
            held = await claim(uow.session, clock.now(), lease=lease, limit=2)
        async with unit_of_work(ctx) as uow:
            other = await claim(uow.session, clock.now(), lease=lease, limit=10)
    else:
        # Two open transactions at once: the second skips the rows the first has locked.
        async with unit_of_work(ctx) as first, unit_of_work(ctx) as second:
            held = await claim(first.session, clock.now(), lease=lease, limit=2)
            other = await claim(second.session, clock.now(), lease=lease, limit=10)
    assert len(held) == 2 and len(other) == 2
    assert {i.id for i in held}.isdisjoint({i.id for i in other})
    async with unit_of_work(ctx) as uow:
        assert await claim(uow.session, clock.now(), lease=lease, limit=10) == []
    clock.advance(lease + timedelta(seconds=1))
    async with unit_of_work(ctx) as uow:
        assert len(await claim(uow.session, clock.now(), lease=lease, limit=10)) == 4


async def test_an_item_that_keeps_failing_ends_dead(app: FastAPI, after: Pass) -> None:
    ctx = app.state.ctx
    ctx.settings = ctx.settings.model_copy(update={"outbox_max_attempts": 4})
    async with unit_of_work(ctx) as uow:
        uow.outbox("no_such_kind", {})
    for _ in range(8):
        await after(minutes=5)
    async with read_session(ctx) as session:
        [item] = list(await session.scalars(select(OutboxItem)))
    assert (item.status, item.attempts) == ("dead", 4)
    assert "no handler" in (item.last_error or "")


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"demo": True, "mail_dir": tmp_path / "mail"})


async def test_without_smtp_mail_goes_to_the_folder_and_the_demo_mailbox(
    app: FastAPI, market: Marketplace, after: Pass, settings: Settings
) -> None:
    app.state.ctx.settings = app.state.ctx.settings.model_copy(update={"smtp_url": None})
    outbox_worker = Worker(app.state.ctx, shield=fake_shield)
    deal = await market.transaction(title="Bowl <script>alert(1)</script>")
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Hi")
    after.worker = outbox_worker
    await after(minutes=6)
    await outbox_worker.close()
    [eml] = list(settings.mail_dir.glob("*.eml"))
    assert b"Subject:" in eml.read_bytes()

    page = await market.anonymous.get("/demo/mail")
    assert page.status_code == 200
    assert "&lt;script&gt;" in page.text and "<script>" not in page.text
    one = await market.anonymous.get(f"/demo/mail/{eml.name}")
    assert one.status_code == 200 and "Hi" in one.text
    assert (await market.anonymous.get("/demo/mail/..%2Fsecrets.eml")).status_code == 404


def test_tradetalk_worker_delivers_what_serve_queued(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    port = free_port()
    env.update(
        {
            "TRADETALK_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "TRADETALK_SECRET_KEY": "s" * 40,
            "TRADETALK_SERVER_API_KEY": "server-key",
            "TRADETALK_PORT": str(port),
            "TRADETALK_WORKER_EMBEDDED": "false",
            "TRADETALK_NOTIFY_DELAY_SECONDS": "0",
            "TRADETALK_MAIL_DIR": str(tmp_path / "mail"),
            "TRADETALK_LOG_JSON": "false",
        }
    )
    with running(["serve"], env, tmp_path, port, tmp_path / "serve.log"):
        base = f"http://127.0.0.1:{port}"
        server = {"Authorization": "Bearer server-key"}
        for user in ("b", "s"):
            httpx.put(
                f"{base}/v1/users/{user}",
                headers=server,
                json={"display_name": user, "email": f"{user}@example.com"},
            ).raise_for_status()
        httpx.put(
            f"{base}/v1/transactions/t1",
            headers=server,
            json={"buyer_id": "b", "seller_id": "s", "title": "Lamp", "status": "paid"},
        ).raise_for_status()
        token = httpx.post(f"{base}/v1/users/b/tokens", headers=server).json()["token"]
        buyer = {"Authorization": f"Bearer {token}"}
        cid = httpx.get(f"{base}/v1/transactions/t1/conversation", headers=buyer).json()["id"]
        httpx.post(
            f"{base}/v1/conversations/{cid}/messages", headers=buyer, json={"body": "Hello"}
        ).raise_for_status()
        assert not (tmp_path / "mail").exists()  # serve runs no worker here

    result = subprocess.run(
        [sys.executable, "-m", "tradetalk.cli", "worker", "--once"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    assert b"To: s <s@example.com>" in eml.read_bytes()
