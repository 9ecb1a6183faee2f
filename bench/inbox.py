"""Inbox and history page latency as history grows from 10 thousand to 1 million messages.

For each database (SQLite, PostgreSQL) one marketplace is bulk-loaded straight into the schema
(users, transactions, conversations, participants with their read markers and activity times,
messages with their per-conversation seq; the SQLite FTS triggers and the PostgreSQL search
column fill as they would). A real server serves it; at each size the benchmark times, one
request at a time over a keep-alive connection:

- inbox_first: `GET /v1/conversations?limit=50` of a seller with 1,000 conversations;
- inbox_deep: the same inbox 900 conversations down, via the `next_cursor` chain;
- history_first: `GET /v1/conversations/{id}/messages?limit=50` of the busiest thread (a tenth
  of all messages);
- history_deep: the same thread's oldest pages (`before` the 101st message).

Then more messages are appended to the same conversations (history grows in place) and the
same requests are timed again. The design asks for p95 under 10 ms, flat from 10k to 1M.

Then, under `paired`, the smallest and the largest size again as two databases served side by
side and timed in alternating rounds (see `bench_paired`): on a shared machine that is the
figure to read the growth from. Prints one JSON document.

    python bench/inbox.py [--quick] [--databases sqlite,postgresql] [--sizes 10000,1000000]
                          [--requests 300] [--paired-rounds 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import time
from collections import deque
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from harness import (
    SERVER_KEY,
    Server,
    emit,
    fresh_database,
    machine,
    parse_databases,
    percentiles,
    progress,
    run,
    workdir,
)
from tradetalk.kit.pagination import encode_cursor
from tradetalk.migrate import upgrade_async

TARGET_P95_MS = 10.0
TARGET_GROWTH = 1.3  # largest size's p95 over the smallest's
MIN_REQUESTS = 20  # per figure, however slow the page
PAGE = 50
BATCH = 20_000
START = datetime(2025, 1, 1, tzinfo=UTC)
STEP = timedelta(seconds=7)  # between consecutive messages, marketplace-wide
LONG_THREAD_SHARE = 0.10  # of all messages, in conversation 1
PHRASES = (
    "Is this still available?",
    "Could you do 110 including shipping?",
    "Shipped today, tracking number is in the order page.",
    "Thanks, arrived in great condition!",
    "Does it come with the original box and papers?",
    "I can meet you halfway on the price.",
    "Please send more photos of the reverse side.",
    "Payment sent, let me know when it ships.",
)


@dataclass(frozen=True, slots=True)
class Budget:
    """How many requests one figure takes at most, and for how long."""

    requests: int
    seconds: float


@dataclass
class Marketplace:
    """The shape of the loaded data and what has been loaded so far."""

    conversations: int
    heavy_conversations: int
    rng: random.Random = field(default_factory=lambda: random.Random(2026))
    loaded: int = 0
    last_seq: dict[int, int] = field(default_factory=dict)
    # The last few (seq, message id, sender) of each conversation, for read markers.
    recent: dict[int, deque[tuple[int, int, str]]] = field(default_factory=dict)

    @property
    def sellers(self) -> int:
        return max(1, (self.conversations - self.heavy_conversations) // 10)

    def parties(self, cid: int) -> tuple[str, str]:
        """(buyer, seller) of conversation `cid` (1-based). Conversation 1 is the long one."""
        seller = "seller-big" if cid <= self.heavy_conversations else f"seller-{cid % self.sellers}"
        buyer = "buyer-big" if cid % 10 == 0 else f"buyer-{cid}"
        return buyer, seller

    def users(self) -> list[str]:
        names = {"seller-big", "buyer-big"}
        for cid in range(1, self.conversations + 1):
            names.update(self.parties(cid))
        return sorted(names)

    def messages(self, count: int) -> Iterator[tuple[Any, ...]]:
        """The next `count` messages: (id, conversation_id, seq, kind, sender_id, sender_role,
        body, created_at), in id and time order, spread over every conversation."""
        rng = self.rng
        for _ in range(count):
            index = self.loaded
            self.loaded += 1
            cid = 1 if rng.random() < LONG_THREAD_SHARE else rng.randint(2, self.conversations)
            seq = self.last_seq.get(cid, 0) + 1
            self.last_seq[cid] = seq
            buyer, seller = self.parties(cid)
            role = "buyer" if rng.random() < 0.5 else "seller"
            sender = buyer if role == "buyer" else seller
            self.recent.setdefault(cid, deque(maxlen=4)).append((seq, index + 1, sender))
            body = f"{rng.choice(PHRASES)} (#{index})"
            yield (index + 1, cid, seq, "text", sender, role, body, START + index * STEP)

    def activity(self) -> list[tuple[Any, ...]]:
        """Per participant: (last_read_seq, last_read_message_id, last_activity_at, cid, user).

        The last sender has read everything (as the app records); the other side is up to
        three messages behind, so unread counts stay small, as in a living inbox."""
        rows = []
        for cid, recent in self.recent.items():
            last_seq, last_id, last_sender = recent[-1]
            at = START + (last_id - 1) * STEP
            for user in self.parties(cid):
                if user == last_sender:
                    seq, message_id = last_seq, last_id
                else:
                    seq, message_id, _ = recent[-1 - self.rng.randint(0, len(recent) - 1)]
                rows.append((seq, message_id, at, cid, user))
        return rows

    def conversation_tails(self) -> list[tuple[Any, ...]]:
        """(last_seq, last_message_at, cid) of every conversation with messages."""
        return [
            (recent[-1][0], START + (recent[-1][1] - 1) * STEP, cid)
            for cid, recent in self.recent.items()
        ]


def _base_rows(market: Marketplace) -> dict[str, list[tuple[Any, ...]]]:
    created = START - timedelta(days=30)
    users = [(u, u.replace("-", " ").title(), f"{u}@example.com", False, 0, 0, created, created)
             for u in market.users()]  # fmt: skip
    transactions, conversations, participants = [], [], []
    for cid in range(1, market.conversations + 1):
        buyer, seller = market.parties(cid)
        transactions.append(
            (f"txn-{cid}", buyer, seller, f"Item {cid}", "paid", 12500, "USD", created, created)
        )
        conversations.append((cid, "transaction", f"txn-{cid}", buyer, created, 0))
        participants.append((cid, buyer, "buyer", 0, created))
        participants.append((cid, seller, "seller", 0, created))
    return {
        "users": users,
        "transactions": transactions,
        "conversations": conversations,
        "participants": participants,
    }


BASE_COLUMNS = {
    "users": "id, display_name, email, is_support, token_generation, last_event_id, "
    "created_at, updated_at",
    "transactions": "id, buyer_id, seller_id, title, status, amount_minor, currency, "
    "created_at, updated_at",
    "conversations": "id, kind, transaction_id, created_by, created_at, last_seq",
    "participants": "conversation_id, user_id, role, last_read_seq, joined_at",
}
MESSAGE_COLUMNS = (
    "id", "conversation_id", "seq", "kind", "sender_id", "sender_role", "body", "created_at",
)  # fmt: skip
UPDATE_PARTICIPANTS = (
    "UPDATE participants SET last_read_seq = {0}, last_read_message_id = {1}, "
    "last_activity_at = {2} WHERE conversation_id = {3} AND user_id = {4}"
)
UPDATE_CONVERSATIONS = (
    "UPDATE conversations SET last_seq = {0}, last_message_at = {1} WHERE id = {2}"
)


def _sqlite_value(value: Any) -> Any:
    # The text form SQLAlchemy stores (and compares) UTCDateTime values in on SQLite.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _sqlite_rows(rows: Any) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield tuple(_sqlite_value(v) for v in row)


def load_sqlite(url: str, market: Marketplace, count: int, *, first: bool) -> None:
    """Append `count` messages (and on the first call the rest of the marketplace)."""
    path = url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA busy_timeout=15000")
        # A loader-only page cache: with SQLite's default 2 MB, a million index inserts spill
        # pages to the WAL over and over. The server keeps its own settings.
        connection.execute("PRAGMA cache_size=-524288")
        connection.execute("BEGIN IMMEDIATE")
        if first:
            for table, rows in _base_rows(market).items():
                columns = BASE_COLUMNS[table]
                marks = ", ".join("?" * len(columns.split(",")))
                connection.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})", _sqlite_rows(rows)
                )
        marks = ", ".join("?" * len(MESSAGE_COLUMNS))
        connection.executemany(
            f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)}) VALUES ({marks})",
            _sqlite_rows(market.messages(count)),
        )
        connection.executemany(
            UPDATE_CONVERSATIONS.format("?", "?", "?"), _sqlite_rows(market.conversation_tails())
        )
        connection.executemany(
            UPDATE_PARTICIPANTS.format("?", "?", "?", "?", "?"), _sqlite_rows(market.activity())
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


async def load_postgresql(url: str, market: Marketplace, count: int, *, first: bool) -> None:
    """Append `count` messages with COPY (and on the first call the rest of the marketplace)."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            if first:
                for table, rows in _base_rows(market).items():
                    columns = [c.strip() for c in BASE_COLUMNS[table].split(",")]
                    await connection.copy_records_to_table(table, records=rows, columns=columns)
            messages = market.messages(count)
            while batch := [row for _, row in zip(range(BATCH), messages, strict=False)]:
                await connection.copy_records_to_table(
                    "messages", records=batch, columns=list(MESSAGE_COLUMNS)
                )
            await connection.executemany(
                UPDATE_CONVERSATIONS.format("$1", "$2", "$3"), market.conversation_tails()
            )
            await connection.executemany(
                UPDATE_PARTICIPANTS.format("$1", "$2", "$3", "$4", "$5"), market.activity()
            )
            # Ids were given explicitly; later inserts must continue after them.
            for table in ("messages", "conversations"):
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        # Autovacuum would get here on its own after a bulk load; do not time its absence.
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def load(kind: str, url: str, market: Marketplace, count: int, *, first: bool) -> float:
    """Load and return how long it took."""
    began = time.perf_counter()
    if kind == "sqlite":
        await asyncio.to_thread(load_sqlite, url, market, count, first=first)
    else:
        await load_postgresql(url, market, count, first=first)
    return time.perf_counter() - began


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One of the four timed pages: who asks for it, where, with which parameters."""

    user: str
    url: str
    params: dict[str, Any]


async def page_requests(
    server: Server, market: Marketplace, tokens: dict[str, str]
) -> tuple[dict[str, PageRequest], int]:
    """The four pages that are timed, and how many conversations the deep inbox page skips
    (its cursor found by walking the seller's inbox down, as a client scrolling would). The
    thread's oldest pages take a cursor like the one the chain of pages would hand out after
    scrolling all the way up (walking 2,000 pages first would only slow the run)."""
    seller = "seller-big"
    async with server.client(connections=1, token=tokens[seller]) as api:
        cursor, pages = None, 0
        while pages < market.heavy_conversations * 9 // 10 // PAGE:
            params: dict[str, Any] = {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
            page = (await api.get("/v1/conversations", params=params)).json()
            cursor, pages = page["next_cursor"], pages + 1
            if cursor is None:
                break
    buyer = market.parties(1)[0]
    thread = "/v1/conversations/1/messages"
    pages_requested = {
        "inbox_first": PageRequest(seller, "/v1/conversations", {"limit": PAGE}),
        "inbox_deep": PageRequest(
            seller, "/v1/conversations", {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
        ),
        "history_first": PageRequest(buyer, thread, {"limit": PAGE}),
        "history_deep": PageRequest(
            buyer, thread, {"limit": PAGE, "before": encode_cursor(PAGE * 2 + 1)}
        ),
    }
    return pages_requested, pages * PAGE


async def time_requests(
    server: Server, api: httpx.AsyncClient, request: PageRequest, budget: Budget
) -> dict[str, Any]:
    """Latency of the same GET, one at a time, after a short warm-up; stops at the request
    count or the time budget, whichever comes first (a slow page must not stall the run)."""
    latencies, cpu, items = await timed_gets(
        server,
        api,
        request,
        budget.requests,
        warm_ups=max(3, budget.requests // 20),
        seconds=budget.seconds,
    )
    return percentiles(latencies) | {
        "requests": len(latencies),
        "items": items,
        "server_cpu_ms_per_request": round(cpu / len(latencies) * 1000, 3),
    }


async def measure(
    server: Server, market: Marketplace, tokens: dict[str, str], budget: Budget
) -> dict[str, Any]:
    """Time the four pages; check they hold what was loaded."""
    requests, skipped = await page_requests(server, market, tokens)
    results: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        clients = {
            user: await stack.enter_async_context(server.client(connections=1, token=token))
            for user, token in tokens.items()
        }
        for name, request in requests.items():
            results[name] = await time_requests(server, clients[request.user], request, budget)
        results["inbox_deep"]["conversations_skipped"] = skipped
        results["history_deep"]["thread_messages"] = market.last_seq.get(1, 0)
        thread = requests["history_first"]
        newest = (await clients[thread.user].get(thread.url, params={"limit": 1})).json()["items"]
        assert newest and newest[0]["seq"] == market.last_seq[1], "history does not match load"
    return results


async def timed_gets(
    server: Server,
    api: httpx.AsyncClient,
    request: PageRequest,
    count: int,
    *,
    warm_ups: int = 2,
    seconds: float | None = None,
) -> tuple[list[float], float, int]:
    """Up to `count` timed GETs of one page, one at a time, after `warm_ups` untimed ones
    (with `seconds`, no more once that budget is spent and MIN_REQUESTS are in); the
    latencies, the server's CPU seconds meanwhile and the items on the page."""
    for _ in range(warm_ups):
        response = await api.get(request.url, params=request.params)
        response.raise_for_status()
    latencies: list[float] = []
    cpu_before = server.cpu_seconds()
    deadline = None if seconds is None else time.perf_counter() + seconds
    while len(latencies) < count and (
        deadline is None or len(latencies) < MIN_REQUESTS or time.perf_counter() < deadline
    ):
        started = time.perf_counter()
        response = await api.get(request.url, params=request.params)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
    return latencies, server.cpu_seconds() - cpu_before, len(response.json()["items"])


async def bench_paired(kind: str, options: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """The smallest and the largest size as two databases served side by side, timed in
    alternating rounds, so that both see the same moments of the machine.

    Why: timed one after the other (the in-place run above), the two sizes are minutes apart,
    and on a shared machine a page's p95 moves by a third between minutes; the ratio of two
    such figures says more about the machine than about the growth. Here each round times
    every page on both databases back to back (which goes first alternates), and the growth
    is read from the pooled samples and from each round's ratio. Both databases hold the same
    marketplace: the large one is the small one with the rest of the messages appended."""
    small, large = options.sizes[0], options.sizes[-1]
    rounds = options.paired_rounds
    per_round = max(MIN_REQUESTS, options.requests // rounds)
    async with AsyncExitStack() as stack:
        servers: dict[int, Server] = {}
        requests: dict[int, dict[str, PageRequest]] = {}
        clients: dict[tuple[int, str], httpx.AsyncClient] = {}
        market = Marketplace(options.conversations, options.heavy_conversations)
        for size in (small, large):
            url = await stack.enter_async_context(
                fresh_database(kind, folder, prefix=f"tradetalk_paired_{size}")
            )
            await upgrade_async(url)
            # The same seed each time: the large database starts as a copy of the small one.
            market = Marketplace(options.conversations, options.heavy_conversations)
            progress(f"{kind} (paired): loading {size:,} messages")
            await load(kind, url, market, small, first=True)
            if size > small:
                await load(kind, url, market, size - small, first=False)
            server = await stack.enter_async_context(Server(url, folder))
            tokens = await issue_tokens(server, ["seller-big", market.parties(1)[0]])
            requests[size], _ = await page_requests(server, market, tokens)
            for user, token in tokens.items():
                clients[size, user] = await stack.enter_async_context(
                    server.client(connections=1, token=token)
                )
            servers[size] = server
        samples: dict[tuple[int, str], list[float]] = {}
        cpu: dict[tuple[int, str], float] = {}
        ratios: dict[str, list[float]] = {name: [] for name in requests[small]}
        for round_number in range(rounds):
            progress(f"{kind} (paired): round {round_number + 1} of {rounds}")
            order = (small, large) if round_number % 2 == 0 else (large, small)
            for name in requests[small]:
                p95: dict[int, float] = {}
                for size in order:
                    request = requests[size][name]
                    latencies, seconds, items = await timed_gets(
                        servers[size], clients[size, request.user], request, per_round
                    )
                    assert items, f"{request.url} answered an empty page"
                    samples.setdefault((size, name), []).extend(latencies)
                    cpu[size, name] = cpu.get((size, name), 0.0) + seconds
                    p95[size] = percentiles(latencies)["p95_ms"]
                ratios[name].append(round(p95[large] / p95[small], 3))
    figures: dict[str, Any] = {}
    for size in (small, large):
        figures[str(size)] = {
            name: percentiles(samples[size, name])
            | {
                "requests": len(samples[size, name]),
                "server_cpu_ms_per_request": round(
                    cpu[size, name] / len(samples[size, name]) * 1000, 3
                ),
            }
            for name in requests[small]
        }
    growth = {
        name: round(figures[str(large)][name]["p95_ms"] / figures[str(small)][name]["p95_ms"], 2)
        for name in requests[small]
    }
    return {
        "rounds": rounds,
        "requests_per_page_per_round": per_round,
        "sizes": figures,
        "p95_growth": growth,
        "p95_growth_per_round": ratios,
        "p95_growth_median_of_rounds": {
            name: round(statistics.median(values), 2) for name, values in ratios.items()
        },
        "meets_target": all(
            page["p95_ms"] < TARGET_P95_MS for size in figures.values() for page in size.values()
        )
        and all(statistics.median(values) <= TARGET_GROWTH for values in ratios.values()),
    }


async def issue_tokens(server: Server, users: list[str]) -> dict[str, str]:
    async with server.client(connections=1, token=SERVER_KEY) as api:
        tokens = {}
        for user in users:
            response = await api.post(f"/v1/users/{user}/tokens", json={"ttl_seconds": 86400})
            response.raise_for_status()
            tokens[user] = response.json()["token"]
        return tokens


async def bench_database(kind: str, options: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Load and measure each size in turn on one fresh database of this kind."""
    market = Marketplace(options.conversations, options.heavy_conversations)
    result: dict[str, Any] = {
        "setup": {
            "conversations": options.conversations,
            "heavy_seller_conversations": options.heavy_conversations,
            "long_thread_share": LONG_THREAD_SHARE,
            "page_size": PAGE,
            "requests_per_figure": options.requests,
            "seconds_per_figure_at_most": options.seconds,
            "analyzed": kind == "postgresql",
        },
        "sizes": {},
    }
    async with fresh_database(kind, folder) as url:
        await upgrade_async(url)
        async with Server(url, folder) as server:
            tokens: dict[str, str] | None = None
            for size in options.sizes:
                progress(f"{kind}: loading messages up to {size:,}")
                seconds = await load(kind, url, market, size - market.loaded, first=not tokens)
                if tokens is None:
                    tokens = await issue_tokens(server, ["seller-big", market.parties(1)[0]])
                progress(f"{kind}: timing pages at {size:,} messages")
                figures = await measure(
                    server, market, tokens, Budget(options.requests, options.seconds)
                )
                result["sizes"][str(size)] = {
                    "messages": market.loaded,
                    "load_seconds": round(seconds, 1),
                    "pages": figures,
                }
    smallest, largest = (str(options.sizes[0]), str(options.sizes[-1]))
    result["p95_growth"] = {
        name: round(
            result["sizes"][largest]["pages"][name]["p95_ms"]
            / result["sizes"][smallest]["pages"][name]["p95_ms"],
            2,
        )
        for name in result["sizes"][smallest]["pages"]
    }
    result["meets_target"] = all(
        page["p95_ms"] < TARGET_P95_MS
        for size in result["sizes"].values()
        for page in size["pages"].values()
    )
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--databases", type=parse_databases, default="sqlite,postgresql")
    parser.add_argument(
        "--sizes",
        type=lambda v: sorted(int(x) for x in v.split(",")),
        default=[10_000, 1_000_000],
        help="message counts to measure at, ascending (default 10000,1000000)",
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per figure")
    parser.add_argument(
        "--seconds",
        type=float,
        default=20.0,
        help=f"time budget per figure (at least {MIN_REQUESTS} requests are made regardless)",
    )
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--heavy-conversations", type=int, default=1000)
    parser.add_argument(
        "--paired-rounds",
        type=int,
        default=5,
        help="rounds of the paired run (the two sizes side by side); 0 skips it",
    )
    parser.add_argument("--quick", action="store_true", help="a few seconds: smoke run only")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    options = parser.parse_args()
    if options.quick:
        options.sizes, options.requests, options.seconds = [200, 600], 5, 1.0
        options.conversations, options.heavy_conversations = 40, 20
        options.paired_rounds = min(options.paired_rounds, 2)
    if options.heavy_conversations > options.conversations:
        parser.error("--heavy-conversations cannot exceed --conversations")
    return options


async def main(options: argparse.Namespace) -> dict[str, Any]:
    document: dict[str, Any] = {
        "benchmark": "inbox",
        "quick": options.quick,
        "target": f"p95 < {TARGET_P95_MS} ms at every size, flat as messages grow",
        "machine": machine(),
    }
    with workdir() as folder:
        for kind in options.databases:
            document[kind] = await bench_database(kind, options, folder)
            if options.paired_rounds > 0:
                document[kind]["paired"] = await bench_paired(kind, options, folder)
    return document


if __name__ == "__main__":
    arguments = parse_args()
    emit(run(main(arguments)), arguments.out)
