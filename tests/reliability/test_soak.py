"""Soak: mixed traffic against a `tradetalk serve` subprocess on SQLite for a while (120 s under
CI, 20 s otherwise, TRADETALK_SOAK_SECONDS to choose): no error of any kind, and the server's
memory flat once warm. Run with `-s` to see the figures."""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import IN_CI
from tests.reliability.conftest import (
    Party,
    Processes,
    Thread,
    base_env,
    make_threads,
    user_client,
)

SOAK_SECONDS = float(os.environ.get("TRADETALK_SOAK_SECONDS") or (120 if IN_CI else 20))
THREADS = 6
SAMPLE_EVERY = 0.5  # seconds between RSS samples
# Memory once warm: the second half may grow by at most the larger of these. The first half
# warms up (pools, each SQLite connection's page cache filling as the database grows); after
# that, about 2,000 requests (CI) growing RSS by 10 MB is 5 KB kept per request: a leak of
# anything request-sized (a session, a message, a response body) breaks the bound.
MAX_GROWTH_BYTES = 10 * 1024 * 1024
MAX_GROWTH_SHARE = 0.06
STREAM_WAIT = 20.0  # seconds for the event stream to catch up after the load stops


@dataclass
class Tally:
    """Outcomes of the load: counts per operation, and everything that went wrong."""

    ok: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def check(self, op: str, response: httpx.Response, *expected: int) -> dict[str, Any]:
        if response.status_code not in expected:
            self.errors.append(f"{op}: {response.status_code} {response.text[:300]}")
            return {}
        self.ok[op] += 1
        body: dict[str, Any] = response.json() if response.content else {}
        return body


def proc_status(pid: int, name: str) -> int:
    """A number from /proc/PID/status (Linux): VmRSS in bytes, Threads as a count."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            value = int(line.split()[1])
            return value * 1024 if line.rstrip().endswith("kB") else value
    raise LookupError(name)


def rss_bytes(pid: int) -> int:
    """Resident set size of a process."""
    return proc_status(pid, "VmRSS")


@pytest.mark.timeout(SOAK_SECONDS + 180)
async def test_mixed_traffic_has_no_errors_and_flat_memory(
    processes: Processes, tmp_path: Path
) -> None:
    env = base_env(tmp_path, f"sqlite:///{tmp_path / 'soak.db'}")
    server = processes.server("serve", env)
    await server.wait_ready()
    threads = await make_threads(server.url, THREADS, "soak")
    parties = [party for thread in threads for party in thread.parties]
    async with AsyncExitStack() as stack:
        http = {
            party.id: await stack.enter_async_context(user_client(server.url, party))
            for party in parties
        }
        tally = Tally()
        rng = random.Random(5)
        sent_client_ids: dict[int, set[str]] = {t.conversation_id: set() for t in threads}
        latest: dict[int, int] = {}  # conversation id -> newest message id seen
        deadline = 0.0

        async def loop(op: str, step: Callable[[], Awaitable[None]], pause: float) -> None:
            while time.monotonic() < deadline:
                try:
                    await step()
                except httpx.TransportError as exc:
                    tally.errors.append(f"{op}: {type(exc).__name__}: {exc}")
                await asyncio.sleep(pause * rng.uniform(0.5, 1.5))

        def sender(thread: Thread) -> Callable[[], Awaitable[None]]:
            count = 0

            async def step() -> None:
                nonlocal count
                count += 1
                party = thread.parties[count % 2]
                client_id = f"{party.id}-{count}"
                response = await http[party.id].post(
                    f"/v1/conversations/{thread.conversation_id}/messages",
                    json={"body": f"Still available? note {count}", "client_message_id": client_id},
                )
                message = tally.check("send", response, 201)
                if message:
                    sent_client_ids[thread.conversation_id].add(client_id)
                    latest[thread.conversation_id] = max(
                        latest.get(thread.conversation_id, 0), message["id"]
                    )

            return step

        async def history() -> None:
            thread = rng.choice(threads)
            party = rng.choice(thread.parties)
            url = f"/v1/conversations/{thread.conversation_id}/messages"
            page = tally.check("history", await http[party.id].get(url, params={"limit": 50}), 200)
            if page.get("next_cursor"):
                params = {"limit": 50, "before": page["next_cursor"]}
                tally.check("history", await http[party.id].get(url, params=params), 200)

        async def inbox() -> None:
            party = rng.choice(parties)
            tally.check("inbox", await http[party.id].get("/v1/conversations"), 200)

        async def read_marker() -> None:
            thread = rng.choice(threads)
            if thread.conversation_id in latest:
                party = rng.choice(thread.parties)
                response = await http[party.id].post(
                    f"/v1/conversations/{thread.conversation_id}/read",
                    json={"message_id": latest[thread.conversation_id]},
                )
                tally.check("read", response, 200)

        def negotiation(thread: Thread) -> Callable[[], Awaitable[None]]:
            # One task per thread: offer, counter, then accept or decline; nothing races it.
            async def step() -> None:
                buyer, seller = http[thread.buyer.id], http[thread.seller.id]
                offer = tally.check(
                    "offer",
                    await buyer.post(
                        f"/v1/conversations/{thread.conversation_id}/offers",
                        json={"amount_minor": rng.randint(5000, 9000), "currency": "USD"},
                    ),
                    201,
                )
                if not offer:
                    return
                counter = tally.check(
                    "offer",
                    await seller.post(
                        f"/v1/offers/{offer['id']}/counter",
                        json={"amount_minor": rng.randint(9000, 12000), "currency": "USD"},
                    ),
                    201,
                )
                if counter:
                    answer = rng.choice(["accept", "decline"])
                    tally.check(
                        "offer", await buyer.post(f"/v1/offers/{counter['id']}/{answer}"), 200
                    )

            return step

        # The event stream of one party of each of two threads: every message sent there must
        # arrive, in increasing event ids.
        watched = [threads[0].buyer, threads[1].seller]
        watched_threads = {threads[0].buyer.id: threads[0], threads[1].seller.id: threads[1]}
        streamed: dict[str, set[str]] = {party.id: set() for party in watched}
        stream_errors: list[str] = []

        async def stream(party: Party) -> None:
            last = 0
            url = f"{server.ws_url}/v1/events?token={party.token}"
            async with connect(url, open_timeout=20) as socket:
                ready.release()
                async for raw in socket:
                    frame = json.loads(raw)
                    if frame["type"] in ("heartbeat", "ready"):
                        continue
                    if frame["id"] <= last:
                        stream_errors.append(f"event id {frame['id']} after {last}")
                    last = frame["id"]
                    if frame["type"] == "message.created" and frame["data"].get(
                        "client_message_id"
                    ):
                        streamed[party.id].add(frame["data"]["client_message_id"])

        ready = asyncio.Semaphore(0)
        streams = [asyncio.create_task(stream(party)) for party in watched]
        for _ in watched:
            async with asyncio.timeout(30):
                await ready.acquire()

        samples: list[tuple[float, int]] = []

        async def sample() -> None:
            while time.monotonic() < deadline:
                samples.append((time.monotonic(), rss_bytes(server.pid)))
                await asyncio.sleep(SAMPLE_EVERY)

        started = time.monotonic()
        deadline = started + SOAK_SECONDS
        try:
            await asyncio.gather(
                sample(),
                *(loop("send", sender(thread), 0.05) for thread in threads),
                *(loop("offer", negotiation(thread), 0.5) for thread in threads[:3]),
                loop("history", history, 0.03),
                loop("history", history, 0.03),
                loop("inbox", inbox, 0.05),
                loop("read", read_marker, 0.1),
            )
            elapsed = time.monotonic() - started
            # The stream catches up with everything sent in the watched threads.
            async with asyncio.timeout(STREAM_WAIT):
                while any(
                    not streamed[p.id] >= sent_client_ids[watched_threads[p.id].conversation_id]
                    for p in watched
                ):
                    assert not any(s.done() for s in streams), [s.exception() for s in streams]
                    await asyncio.sleep(0.1)
        finally:
            for task in streams:
                task.cancel()
    assert server.alive, server.output()

    threads_at_end = proc_status(server.pid, "Threads")
    requests = sum(tally.ok.values())
    # Memory: the first half warms up (caches, pools, the SQLite page cache); after that it
    # must stay flat. Medians of a window at each end of the second half smooth out noise.
    half = [rss for at, rss in samples if at >= started + SOAK_SECONDS / 2]
    window = max(3, len(half) // 5)
    mid, end = statistics.median(half[:window]), statistics.median(half[-window:])
    growth = end - mid
    figures = {
        "seconds": round(elapsed, 1),
        "requests": requests,
        "requests_per_second": round(requests / elapsed, 1),
        "by_operation": dict(tally.ok),
        "errors": len(tally.errors),
        "error_rate": len(tally.errors) / max(1, requests + len(tally.errors)),
        "stream_frames_checked": sum(len(ids) for ids in streamed.values()),
        "rss_start_mb": round(samples[0][1] / 2**20, 1),
        "rss_mid_mb": round(mid / 2**20, 1),
        "rss_end_mb": round(end / 2**20, 1),
        "rss_max_mb": round(max(rss for _, rss in samples) / 2**20, 1),
        "second_half_growth_mb": round(growth / 2**20, 2),
        "server_threads_at_end": threads_at_end,
        "rss_by_tenth_mb": [
            round(samples[min(len(samples) - 1, i * len(samples) // 10)][1] / 2**20, 1)
            for i in range(11)
        ],
    }
    print(f"\nsoak figures: {json.dumps(figures)}")
    assert not tally.errors, tally.errors[:10]
    assert not stream_errors, stream_errors[:10]
    assert tally.ok["send"] and tally.ok["offer"] and tally.ok["read"] and tally.ok["history"]
    assert growth < max(MAX_GROWTH_BYTES, MAX_GROWTH_SHARE * mid), figures
