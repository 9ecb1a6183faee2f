"""Send throughput and latency through a real server, beside the database's raw commit rate.

For each database (SQLite, PostgreSQL) and each concurrency level this measures, in one run:

- send: `POST /v1/conversations/{id}/messages` from many users over many conversations, each
  request authorised, stored, fanned out (event rows) and committed before its 201;
- the limit (`raw_commit` in the JSON): the durable commit rate of exactly the SQL a send
  writes, with no application code (bench/send_writes.py: pgbench -M prepared on PostgreSQL,
  a plain sqlite3 loop on SQLite), at the same concurrency, before and after the sends;
- ratio = send rate / raw commit rate (the design asks for at least 0.5), and the server's CPU
  time per message (from /proc/<pid>/stat, all its processes), which the design compares with
  Synapse's ~23 ms;
- with `--server-workers 1,2`, the sends of each level are measured once per server, side by
  side between the same two limit runs: `tradetalk serve` (one process, in-process broker) and
  `tradetalk serve --workers 2` (two processes on one port, Redis for fan-out; PostgreSQL only).

The load generator and the server share the machine's cores. Prints one JSON document.

    python bench/send.py [--quick] [--databases sqlite,postgresql] [--concurrency 16,64]
                         [--server-workers 1,2] [--duration 10] [--conversations 1000]
                         [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from harness import (
    Server,
    closed_loop,
    emit,
    ensure_debian_package,
    fresh_database,
    gather_limited,
    machine,
    parse_databases,
    progress,
    run,
    workdir,
)
from send_writes import limit_rate
from tradetalk.config import Settings
from tradetalk.db import Database
from wrk_load import closed_loop_wrk, find_wrk, write_script

TARGET_RATIO = 0.5
REDIS_URL = os.environ.get("TRADETALK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SELLER_SHARE = 10  # conversations per seller: sellers are busier than buyers
BODY = "Hi! Is the 1921 Morgan dollar still available, and can you ship it tomorrow? #{n}"


@dataclass(frozen=True, slots=True)
class Party:
    user_id: str
    token: str


@dataclass(frozen=True, slots=True)
class Thread:
    conversation_id: int
    buyer: Party
    seller: Party


async def seed(server: Server, conversations: int, *, prefix: str = "") -> list[Thread]:
    """Users, transactions, tokens and open conversations, all through the server API."""
    sellers = [f"{prefix}seller-{i}" for i in range(max(1, conversations // SELLER_SHARE))]
    buyers = [f"{prefix}buyer-{i}" for i in range(conversations)]
    async with server.client(connections=16) as api:

        async def put_user(user_id: str) -> None:
            body = {"display_name": user_id.title(), "email": f"{user_id}@example.com"}
            (await api.put(f"/v1/users/{user_id}", json=body)).raise_for_status()

        async def token(user_id: str) -> Party:
            response = await api.post(f"/v1/users/{user_id}/tokens", json={"ttl_seconds": 86400})
            response.raise_for_status()
            return Party(user_id, response.json()["token"])

        async def deal(index: int) -> None:
            body = {
                "buyer_id": buyers[index],
                "seller_id": sellers[index % len(sellers)],
                "title": f"Item {index}",
                "status": "paid",
                "amount_minor": 12500,
                "currency": "USD",
            }
            (await api.put(f"/v1/transactions/{prefix}txn-{index}", json=body)).raise_for_status()

        users = sellers + buyers
        await gather_limited([lambda u=u: put_user(u) for u in users], 16)  # type: ignore[misc]
        parties = await gather_limited([lambda u=u: token(u) for u in users], 16)  # type: ignore[misc]
        by_id = {p.user_id: p for p in parties}
        await gather_limited([lambda i=i: deal(i) for i in range(conversations)], 16)  # type: ignore[misc]

        async def open_conversation(index: int) -> Thread:
            buyer = by_id[buyers[index]]
            response = await api.get(
                f"/v1/transactions/{prefix}txn-{index}/conversation",
                headers={"Authorization": f"Bearer {buyer.token}"},
            )
            response.raise_for_status()
            seller = by_id[sellers[index % len(sellers)]]
            return Thread(response.json()["id"], buyer, seller)

        return await gather_limited(
            [lambda i=i: open_conversation(i) for i in range(conversations)],  # type: ignore[misc]
            16,
        )


async def drive_sends(
    server: Server,
    threads: list[Thread],
    *,
    concurrency: int,
    duration: float,
    client_ids: bool,
    seed_value: int,
    load: str = "httpx",
) -> dict[str, Any]:
    """`concurrency` clients sending back to back for `duration` seconds, from this process
    (httpx) or from wrk (`load="wrk"`, see wrk_load.py)."""
    if load == "wrk":
        with tempfile.TemporaryDirectory() as folder:
            script = write_script(
                Path(folder), threads, body_prefix=BODY.split("{")[0], client_ids=client_ids,
                seed=seed_value,
            )  # fmt: skip
            result = await closed_loop_wrk(
                server.base_url, script, concurrency=concurrency, duration=duration, ok=201,
                server_cpu=server.cpu_seconds,
            )  # fmt: skip
        if result["errors"]:
            progress(f"errors {result['errors']}; the server's log ends:\n{server.errors_logged()}")
        return result
    rng = random.Random(seed_value)
    async with server.client(connections=concurrency) as api:

        async def send(n: int) -> int:
            thread = rng.choice(threads)
            party = thread.buyer if rng.random() < 0.5 else thread.seller
            body: dict[str, Any] = {"body": BODY.format(n=n)}
            if client_ids:
                body["client_message_id"] = uuid.uuid4().hex
            try:
                response = await api.post(
                    f"/v1/conversations/{thread.conversation_id}/messages",
                    json=body,
                    headers={"Authorization": f"Bearer {party.token}"},
                )
            except httpx.TransportError:
                return 0  # no answer (connection refused or dropped): counted as error "0"
            return response.status_code

        result = await closed_loop(
            send, concurrency=concurrency, duration=duration, ok=201, server_cpu=server.cpu_seconds
        )
    if result["errors"]:
        progress(f"errors {result['errors']}; the server's log ends:\n{server.errors_logged()}")
    return result


async def count_rows(database: Database, table: str) -> int:
    """Rows in one of the app's tables (to check every acknowledged send was stored)."""
    from tradetalk.models import metadata

    async with database.write_engine.connect() as connection:
        stmt = select(func.count()).select_from(metadata.tables[table])
        return int((await connection.execute(stmt)).scalar_one())


async def bench_database(kind: str, options: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Every measurement for one kind of database, on a fresh database of that kind."""
    counts = [n for n in options.server_workers if n == 1 or kind == "postgresql"] or [1]
    if counts != options.server_workers:
        progress(f"{kind}: one server process only (several need PostgreSQL)")
    async with fresh_database(kind, folder) as url, Server(url, folder) as server:
        progress(f"{kind}: seeding {options.conversations} conversations through the API")
        began = time.perf_counter()
        threads = await seed(server, options.conversations)
        # Conversations of their own for the limit's transactions (see send_writes.py).
        limit_threads = [
            (t.conversation_id, t.buyer.user_id, t.seller.user_id)
            for t in await seed(server, max(10, options.conversations // 5), prefix="limit-")
        ]
        seeded = time.perf_counter() - began
        database = Database(Settings(database_url=url))
        try:
            if options.warmup > 0:
                await drive_sends(
                    server, threads, concurrency=min(options.concurrency), duration=options.warmup,
                    client_ids=options.client_ids, seed_value=0, load=options.load,
                )  # fmt: skip
            levels: dict[str, Any] = {}
            for concurrency in options.concurrency:
                # A/B/A: the limit before and after the sends, so that a machine getting
                # busier or quieter during the run shows up as a gap between the two.
                progress(f"{kind}: the limit (a send's writes) at concurrency {concurrency}")
                before = await limit_rate(
                    kind, url, limit_threads, concurrency=concurrency, duration=options.duration
                )
                sends: dict[int, dict[str, Any]] = {}
                for n in counts:
                    progress(f"{kind}: sends at concurrency {concurrency}, {n} server process(es)")
                    async with AsyncExitStack() as stack:
                        # The one-process server runs throughout, as it always has; one of
                        # several processes runs only for its own sends (and its warm-up), so
                        # that the limit's pgbench clients find connection slots free.
                        each = server if n == 1 else await stack.enter_async_context(
                            Server(url, folder, workers=n, redis_url=REDIS_URL,
                                   redis_prefix=f"bench-{uuid.uuid4().hex[:8]}")
                        )  # fmt: skip
                        if n > 1 and options.warmup > 0:
                            await drive_sends(
                                each, threads, concurrency=concurrency, duration=options.warmup,
                                client_ids=options.client_ids, seed_value=-concurrency,
                                load=options.load,
                            )  # fmt: skip
                        sends[n] = await drive_sends(
                            each, threads, concurrency=concurrency, duration=options.duration,
                            client_ids=options.client_ids, seed_value=concurrency,
                            load=options.load,
                        )  # fmt: skip
                send = sends[counts[0]]
                progress(f"{kind}: the limit again at concurrency {concurrency}")
                after = await limit_rate(
                    kind, url, limit_threads, concurrency=concurrency, duration=options.duration
                )
                raw = {
                    "what": "a send's writes, committed: " + before["tool"],
                    "per_second": round((before["per_second"] + after["per_second"]) / 2, 1),
                    "before": before,
                    "after": after,
                }
                ratio = send["per_second"] / raw["per_second"] if raw["per_second"] else None
                levels[str(concurrency)] = {
                    "send": send,
                    "raw_commit": raw,
                    "ratio": round(ratio, 3) if ratio is not None else None,
                    "meets_target": ratio is not None and ratio >= TARGET_RATIO,
                }
                if len(sends) > 1:  # `send` and `ratio` above are those of the first count
                    levels[str(concurrency)]["server_processes"] = {
                        str(n): {
                            "send": each,
                            "ratio": round(each["per_second"] / raw["per_second"], 3)
                            if raw["per_second"]
                            else None,
                        }
                        for n, each in sends.items()
                    }
            stored = {
                "messages": await count_rows(database, "messages"),
                "events": await count_rows(database, "events"),
            }
        finally:
            await database.dispose()
        acknowledged = sum(
            sum(each["send"]["messages"] for each in level["server_processes"].values())
            if "server_processes" in level
            else level["send"]["messages"]
            for level in levels.values()
        )
        return {
            "setup": {
                "conversations": len(threads),
                "users": len(
                    {t.buyer.user_id for t in threads} | {t.seller.user_id for t in threads}
                ),
                "seed_seconds": round(seeded, 2),
                "client_message_id": options.client_ids,
                "server_pool": "app defaults",
                "load_generator": options.load,
                "server_processes": counts,
            },
            "concurrency": levels,
            # Warm-up sends are stored too; every measured 201 must be among the stored rows.
            "stored": stored | {"acknowledged_in_measurements": acknowledged},
        }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--databases", type=parse_databases, default="sqlite,postgresql")
    parser.add_argument(
        "--concurrency",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[16, 64],
        help="comma-separated concurrency levels (default 16,64)",
    )
    parser.add_argument(
        "--server-workers",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1],
        help="server process counts to measure side by side, e.g. 1,2 (more than one: "
        "PostgreSQL only, with Redis at TRADETALK_BENCH_REDIS_URL)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured sends")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument(
        "--no-client-id",
        dest="client_ids",
        action="store_false",
        help="send without client_message_id (skips the idempotency lookup and lock)",
    )
    parser.add_argument(
        "--load",
        choices=["wrk", "httpx"],
        default="wrk",
        help="load generator: wrk with a Lua script (installed with apt-get when missing, as "
        "root), or httpx in this process (which costs more CPU per send than the server at 64)",
    )
    parser.add_argument("--quick", action="store_true", help="a few seconds: smoke run only")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    options = parser.parse_args()
    if options.quick:
        options.duration, options.warmup, options.conversations = 0.5, 0.0, 6
        options.concurrency = [4]
    if options.load == "wrk":
        ensure_debian_package("wrk", find_wrk, needed_by="send.py --load wrk")
    return options


async def main(options: argparse.Namespace) -> dict[str, Any]:
    document: dict[str, Any] = {
        "benchmark": "send",
        "quick": options.quick,
        "target": f"send rate >= {TARGET_RATIO} x raw commit rate at the same concurrency",
        "machine": machine(),
        "duration_seconds": options.duration,
        "load_generator": options.load,
    }
    with workdir() as folder:
        for kind in options.databases:
            document[kind] = await bench_database(kind, options, folder)
    return document


if __name__ == "__main__":
    arguments = parse_args()
    emit(run(main(arguments)), arguments.out)
