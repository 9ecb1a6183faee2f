"""SIGKILL `tradetalk serve` in the middle of hundreds of concurrent sends, restart it on the
same database, retry: every acknowledged message is stored exactly once, with its first id.

Run with `-s` to see the figures (acknowledged before the kill, stored after, retried)."""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.conftest import (
    ROOT,
    Laps,
    Party,
    Processes,
    Thread,
    base_env,
    make_threads,
    user_client,
)

THREADS = 6
SENDS_PER_PARTY = 20  # 6 threads x 2 parties x 20 = 240 sends
CONCURRENCY = 32
KILL_AFTER_ACKS = 100
RETRY_EVERY_NTH_ACKED = 4  # acknowledged sends retried as well, to prove they dedupe
PAGE = 23  # history page size: an odd size makes page edges fall everywhere


@dataclass
class Send:
    thread: Thread
    sender: Party
    client_id: str
    body: str
    first_ack: int | None = None  # the id in the first 201, if one arrived
    stored_before_retry: int | None = None
    retry_id: int | None = None

    @property
    def url(self) -> str:
        return f"/v1/conversations/{self.thread.conversation_id}/messages"

    @property
    def payload(self) -> dict[str, str]:
        return {"body": self.body, "client_message_id": self.client_id}


@asynccontextmanager
async def clients(
    base_url: str, threads: list[Thread]
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        yield {
            party.id: await stack.enter_async_context(user_client(base_url, party))
            for thread in threads
            for party in thread.parties
        }


async def history(client: httpx.AsyncClient, thread: Thread) -> list[dict[str, Any]]:
    """Every item of a thread, newest first, walked page by page; checks that the pages
    join up: positions strictly fall, no item twice, no page past the end."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": PAGE}
        if cursor:
            params["before"] = cursor
        response = await client.get(
            f"/v1/conversations/{thread.conversation_id}/messages", params=params
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= PAGE
        for item in page["items"]:
            assert not items or item["seq"] < items[-1]["seq"], "pages overlap or are unordered"
            items.append(item)
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == PAGE, "a page short of the limit still had a next page"


def check_thread(items: list[dict[str, Any]], thread: Thread) -> None:
    """One thread as stored: no id or client id twice, positions 1..n without a gap."""
    ids = [item["id"] for item in items]
    client_ids = [item["client_message_id"] for item in items]
    assert len(set(ids)) == len(ids), f"a message id appears twice in {thread.transaction_id}"
    assert len(set(client_ids)) == len(client_ids), (
        f"a client_message_id is stored twice in {thread.transaction_id}"
    )
    assert sorted(item["seq"] for item in items) == list(range(1, len(items) + 1)), (
        f"the positions of {thread.transaction_id} have a gap: a half-written send?"
    )


async def stored_messages(base_url: str, threads: list[Thread]) -> dict[str, dict[str, Any]]:
    """Every stored message by client id, read back through the API as both parties."""
    stored: dict[str, dict[str, Any]] = {}
    async with clients(base_url, threads) as by_user:
        for thread in threads:
            as_buyer = await history(by_user[thread.buyer.id], thread)
            as_seller = await history(by_user[thread.seller.id], thread)
            assert as_buyer == as_seller, "buyer and seller see different histories"
            check_thread(as_buyer, thread)
            for item in as_buyer:
                assert item["client_message_id"] not in stored
                stored[item["client_message_id"]] = item
            # The inbox agrees with the history about the newest item.
            inbox = await by_user[thread.buyer.id].get("/v1/conversations", params={"limit": 100})
            assert inbox.status_code == 200, inbox.text
            entry = next(c for c in inbox.json()["items"] if c["id"] == thread.conversation_id)
            if as_buyer:
                assert entry["last_message"]["id"] == as_buyer[0]["id"]
    return stored


async def verify_record(env: dict[str, str]) -> tuple[int, str]:
    """`tradetalk verify-record`: every hash chain intact and every thread as it says."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradetalk.cli",
        "verify-record",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_every_acknowledged_send_survives_sigkill_exactly_once(
    fresh_database: str, processes: Processes, tmp_path: Path
) -> None:
    lap = Laps()
    env = base_env(tmp_path, fresh_database)
    first = processes.server("serve-before-kill", env)
    await first.wait_ready()
    lap("started")
    threads = await make_threads(first.url, THREADS, "crash")
    lap("threads")
    sends = [
        Send(thread, party, cid, f"Is the lens still sealed? ref {cid}")
        for thread in threads
        for party in thread.parties
        for n in range(SENDS_PER_PARTY)
        for cid in [f"{thread.transaction_id}-{party.id}-{n:03d}"]
    ]
    random.Random(11).shuffle(sends)

    # --- phase 1: concurrent sends, SIGKILL once KILL_AFTER_ACKS have been acknowledged ----
    killed = asyncio.Event()
    in_flight = 0
    in_flight_at_kill = 0
    acked_at_kill = 0
    unexpected: list[str] = []

    async with clients(first.url, threads) as by_user:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def send(item: Send) -> None:
            nonlocal in_flight, in_flight_at_kill, acked_at_kill
            async with gate:
                if killed.is_set():
                    return  # never sent: the client retries it after the restart
                in_flight += 1
                try:
                    response = await by_user[item.sender.id].post(item.url, json=item.payload)
                except httpx.TransportError:
                    return  # no acknowledgement
                finally:
                    in_flight -= 1
                if response.status_code != 201:
                    unexpected.append(f"{item.client_id}: {response.status_code} {response.text}")
                    return
                message = response.json()
                assert message["client_message_id"] == item.client_id
                assert message["body"] == item.body
                item.first_ack = message["id"]
                acked = sum(1 for s in sends if s.first_ack is not None)
                if acked == KILL_AFTER_ACKS and not killed.is_set():
                    in_flight_at_kill = in_flight
                    acked_at_kill = acked
                    first.kill()  # SIGKILL with requests in flight
                    killed.set()

        await asyncio.gather(*(send(item) for item in sends))

    lap("phase1")
    assert not unexpected, unexpected[:5]
    assert killed.is_set() and not first.alive
    acked = [s for s in sends if s.first_ack is not None]
    # Responses already on their way when the process died still count: they were sent
    # after the commit.
    late_acks = len(acked) - acked_at_kill

    # --- phase 2: restart on the same database; what survived? ---------------------------
    second = processes.server("serve-after-restart", env)
    await second.wait_ready()
    lap("restarted")
    stored = await stored_messages(second.url, threads)
    for item in acked:
        message = stored.get(item.client_id)
        assert message is not None, f"acknowledged {item.client_id} (id {item.first_ack}) lost"
        assert message["id"] == item.first_ack, f"{item.client_id} changed its id"
        assert message["body"] == item.body
        assert message["sender_id"] == item.sender.id
    assert set(stored) <= {s.client_id for s in sends}
    for item in sends:
        if item.client_id in stored:
            item.stored_before_retry = stored[item.client_id]["id"]
    lap("read back")
    committed_unacked = sum(
        1 for s in sends if s.stored_before_retry is not None and s.first_ack is None
    )

    # --- phase 3: retry every unacknowledged send and some acknowledged ones -------------
    retries = [s for s in sends if s.first_ack is None] + acked[::RETRY_EVERY_NTH_ACKED]
    async with clients(second.url, threads) as by_user:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def retry(item: Send) -> None:
            async with gate:
                response = await by_user[item.sender.id].post(item.url, json=item.payload)
            assert response.status_code == 201, f"{item.client_id}: {response.text}"
            item.retry_id = response.json()["id"]

        await asyncio.gather(*(retry(item) for item in retries))
    lap("retried")
    for item in retries:
        expected = item.first_ack or item.stored_before_retry
        if expected is not None:
            assert item.retry_id == expected, f"a retry of {item.client_id} made a new message"

    # --- phase 4: everything stored exactly once ------------------------------------------
    final = await stored_messages(second.url, threads)
    assert set(final) == {s.client_id for s in sends}, "a retried send is missing"
    for item in sends:
        assert final[item.client_id]["id"] == (item.first_ack or item.retry_id)
    lap("final read")
    code, output = await verify_record(env)
    assert code == 0, output
    lap("verified")

    figures = {
        "database": fresh_database.split(":", 1)[0],
        "sends": len(sends),
        "concurrency": CONCURRENCY,
        "acked_before_kill": acked_at_kill,
        "late_acks_after_kill": late_acks,
        "in_flight_at_kill": in_flight_at_kill,
        "stored_after_restart": len(stored),
        "committed_but_unacked": committed_unacked,
        "lost_acked": 0,
        "retried": len(retries),
        "retried_acked": len(acked[::RETRY_EVERY_NTH_ACKED]),
        "retries_returning_existing_id": sum(
            1 for s in retries if s.retry_id in (s.first_ack, s.stored_before_retry)
        ),
        "stored_final": len(final),
        "duplicates": 0,
        "phase_seconds": lap.seconds,
    }
    print(f"\ncrash-safety figures: {json.dumps(figures)}")
