"""The physical limit of a send: the durable commit rate of exactly the SQL a send writes.

One transaction writes what `POST /v1/conversations/{id}/messages` writes: the thread's next
position (UPDATE conversations ... RETURNING), the message row with its client id (the
idempotency key), both members' inbox position and read marker, the record entry of the hash
chain, the feed item of the recipient, both users' event ids (UPDATE ... RETURNING), their two
event rows, and the outbox row of the unread-message email. No Python application code runs:

- PostgreSQL: `pgbench -M prepared` with that script, `concurrency` clients, 2 threads;
- SQLite: a plain `sqlite3` loop in `concurrency` threads, each with its own connection and the
  app's pragmas (WAL, synchronous=NORMAL, busy_timeout, BEGIN IMMEDIATE).

Both write into the benchmark's own database, on conversations kept apart for it (the send
measurement never touches them), so the rows land in the same tables with the same indexes.
Record entries get positions far above the thread's own, so the chains of real sends are not
disturbed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import percentiles

BODY = "Hi! Is the 1921 Morgan dollar still available, and can you ship it tomorrow? #{n}"
# Record positions of the limit's entries: far above any position a real send reaches here.
POSITION_OFFSET = 1_000_000_000

# pgbench script: bench/send_writes.pgbench.sql (one transaction = one send's writes).
_PGBENCH_SCRIPT = Path(__file__).with_name("send_writes.pgbench.sql")


def _write_temporary(text: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(text)
    return script.name


def _pgbench_tps(output: str) -> tuple[float, float]:
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", output)
    latency = re.search(r"latency average = ([0-9.]+) ms", output)
    if tps is None or latency is None:
        raise RuntimeError(f"unexpected pgbench output:\n{output[-2000:]}")
    return float(tps.group(1)), float(latency.group(1))


async def prepare_postgresql(url: str, threads: list[tuple[int, str, str]]) -> None:
    """The table pgbench picks its conversations from (n -> conversation and members)."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_limit_threads"
            " (n int PRIMARY KEY, id bigint, buyer_id text, seller_id text)"
        )
        await connection.execute("TRUNCATE bench_limit_threads")
        await connection.executemany(
            "INSERT INTO bench_limit_threads VALUES ($1, $2, $3, $4)",
            [(n + 1, cid, buyer, seller) for n, (cid, buyer, seller) in enumerate(threads)],
        )
    finally:
        await connection.close()


async def postgresql_limit(
    url: str, threads: list[tuple[int, str, str]], *, concurrency: int, duration: float
) -> dict[str, Any]:
    """pgbench -M prepared running a send's writes for `duration` seconds."""
    if shutil.which("pgbench") is None:
        raise RuntimeError("pgbench is missing: it comes with PostgreSQL (Debian: postgresql)")
    await prepare_postgresql(url, threads)
    text = _PGBENCH_SCRIPT.read_text().replace("@COUNT@", str(len(threads)))
    script = await asyncio.to_thread(
        _write_temporary, text.replace("@OFFSET@", str(POSITION_OFFSET))
    )
    try:
        command = [
            "pgbench", "-n", "-M", "prepared", "-c", str(concurrency),
            "-j", str(min(2, concurrency)), "-T", str(max(1, round(duration))),
            "-f", script, url,
        ]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        output = (await process.communicate())[0].decode()
        if process.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{output[-2000:]}")
    finally:
        await asyncio.to_thread(os.remove, script)
    tps, latency_ms = _pgbench_tps(output)
    return {
        "tool": "pgbench -M prepared",
        "per_second": round(tps, 1),
        "latency": {"mean_ms": latency_ms},
    }


def _sqlite_connection(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        connection.execute(f"PRAGMA {pragma}")
    connection.execute("PRAGMA busy_timeout=15000")
    return connection


def _sqlite_send(connection: sqlite3.Connection, thread: tuple[int, str, str], n: int) -> None:
    cid, buyer, seller = thread
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    execute = connection.execute
    execute("BEGIN IMMEDIATE")
    try:
        seq = execute(
            "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = ?"
            " WHERE id = ? RETURNING last_seq",
            (now, cid),
        ).fetchone()[0]
        message_id = execute(
            "INSERT INTO messages (conversation_id, seq, kind, sender_id, sender_role, body,"
            " client_message_id, created_at, edit_count) VALUES (?, ?, 'text', ?, 'buyer', ?, ?,"
            " ?, 0) RETURNING id",
            (cid, seq, buyer, BODY.format(n=n), uuid.uuid4().hex, now),
        ).fetchone()[0]
        execute(
            "UPDATE participants SET last_activity_at = ?,"
            " last_read_seq = CASE WHEN user_id = ? THEN ? ELSE last_read_seq END,"
            " last_read_message_id = CASE WHEN user_id = ? THEN ? ELSE last_read_message_id END"
            " WHERE conversation_id = ?",
            (now, buyer, seq, buyer, message_id, cid),
        )
        payload = json.dumps({"body": BODY.format(n=n), "kind": "text"})
        execute(
            "INSERT INTO record_entries (conversation_id, position, kind, payload, salt, digest,"
            " prev_hash, hash, created_at) VALUES (?, ?, 'message.posted', ?, ?, ?, ?, ?, ?)",
            (cid, seq + POSITION_OFFSET, payload, *(uuid.uuid4().hex for _ in range(4)), now),
        )
        execute(
            "UPDATE notifications SET count = count + 1, title = 'New messages', body = ?,"
            " created_at = ? WHERE user_id = ? AND seen_at IS NULL AND type = 'message'"
            " AND conversation_id = ?",
            (BODY.format(n=n)[:80], now, seller, cid),
        )
        ids = dict(
            execute(
                "UPDATE users SET last_event_id = last_event_id + 1 WHERE id IN (?, ?)"
                " RETURNING id, last_event_id",
                (buyer, seller),
            ).fetchall()
        )
        data = json.dumps({"id": message_id, "conversation_id": cid, "body": BODY.format(n=n)})
        connection.executemany(
            "INSERT INTO events (user_id, id, type, data, created_at)"
            " VALUES (?, ?, 'message.created', ?, ?)",
            [(user, event_id, data, now) for user, event_id in sorted(ids.items())],
        )
        execute(
            "INSERT INTO outbox (kind, payload, idempotency_key, status, attempts, run_after,"
            " created_at) VALUES ('notify_unread', ?, ?, 'pending', 0, ?, ?)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            (json.dumps({"message_id": message_id}), f"notify:{message_id}:{seller}", now, now),
        )
        execute("COMMIT")
    except BaseException:
        execute("ROLLBACK")
        raise


def sqlite_limit(
    path: str, threads: list[tuple[int, str, str]], *, concurrency: int, duration: float
) -> dict[str, Any]:
    """A plain sqlite3 loop writing a send's rows from `concurrency` threads."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    deadline = time.perf_counter() + duration

    def worker(index: int) -> None:
        connection = _sqlite_connection(path)
        n = 0
        try:
            while time.perf_counter() < deadline:
                n += 1
                thread = threads[(index * 7919 + n) % len(threads)]
                begun = time.perf_counter()
                _sqlite_send(connection, thread, n)
                latencies[index].append(time.perf_counter() - begun)
        finally:
            connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    seconds = time.perf_counter() - started
    done = [latency for per_worker in latencies for latency in per_worker]
    return {
        "tool": "sqlite3 loop, one connection per thread",
        "per_second": round(len(done) / seconds, 1),
        "latency": percentiles(done),
    }


async def limit_rate(
    kind: str, url: str, threads: list[tuple[int, str, str]], *, concurrency: int, duration: float
) -> dict[str, Any]:
    """The commit rate of a send's writes on this database at this concurrency."""
    if kind == "postgresql":
        return await postgresql_limit(url, threads, concurrency=concurrency, duration=duration)
    path = url.removeprefix("sqlite:///")
    return await asyncio.to_thread(
        sqlite_limit, path, threads, concurrency=concurrency, duration=duration
    )
