"""Real-time delivery: send-to-receive latency under load, and memory per idle WebSocket.

Starts `tradetalk serve` as a subprocess, creates buyer/seller pairs, opens one event socket
per user (1,000 by default), measures the server's resident memory before and after (the idle
cost per socket), then sends messages through the HTTP API at a fixed rate (500/s by default)
and times each from the moment its POST starts until the recipient's socket delivers it.

    python bench/realtime.py [--sockets 1000] [--rate 500] [--seconds 20]
                             [--database sqlite|postgresql] [--redis] [--source http|redis]
                             [--sender process|inline] [--idle-seconds 0]

The API sends come from a second client process (bench/sender.py says why and how) unless
`--sender inline`; the sockets and the receiving side stay in this one.

Prints one JSON object. Targets (docs/performance.md): p99 under 50 ms, under 50 KB per socket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from harness import postgresql_cpu_seconds, process_tree, process_tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
SERVER_KEY = "bench-server-key"
REDIS_URL = "redis://127.0.0.1:6379/0"
PG_ADMIN_URL = os.environ.get("TRADETALK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_kb(pid: int) -> int:
    """Resident memory of the server: the process and its workers."""
    total = 0
    for each in process_tree(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def _progress(message: str) -> None:
    print(f"[realtime bench] {message}", file=sys.stderr, flush=True)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1], 2)}


async def _pg_database() -> tuple[str, str]:
    import asyncpg

    name = f"tradetalk_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return PG_ADMIN_URL.rpartition("/")[0] + "/" + name, name


async def _drop_pg(name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


class Bench:
    def __init__(self, args: argparse.Namespace, base: str) -> None:
        self.args = args
        self.base = base
        self.ws_base = base.replace("http://", "ws://")
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.http_ms: list[float] = []
        self.errors = 0
        self.closed_early = 0
        # With the sends in another process: when each body reached its recipient, on the
        # clock both processes share (time.monotonic).
        self.arrived: dict[str, float] = {}

    async def setup(self, client: httpx.AsyncClient) -> list[tuple[str, str, int, str, str]]:
        """Create pairs; returns (buyer, seller, conversation id, buyer token, seller token)."""
        pairs = self.args.sockets // 2
        gate = asyncio.Semaphore(32)

        async def one(n: int) -> tuple[str, str, int, str, str]:
            async with gate:
                buyer, seller = f"b{n}", f"s{n}"
                tokens = []
                for user in (buyer, seller):
                    r = await client.put(
                        f"/v1/users/{user}",
                        json={"display_name": user, "email": f"{user}@example.com"},
                    )
                    r.raise_for_status()
                    r = await client.post(f"/v1/users/{user}/tokens", json={"ttl_seconds": 86400})
                    r.raise_for_status()
                    tokens.append(r.json()["token"])
                r = await client.put(
                    f"/v1/transactions/t{n}",
                    json={"buyer_id": buyer, "seller_id": seller, "title": "x", "status": "paid"},
                )
                r.raise_for_status()
                r = await client.get(
                    f"/v1/transactions/t{n}/conversation",
                    headers={"Authorization": f"Bearer {tokens[0]}"},
                )
                r.raise_for_status()
                return buyer, seller, r.json()["id"], tokens[0], tokens[1]

        return list(await asyncio.gather(*(one(n) for n in range(pairs))))

    async def open_socket(self, token: str) -> ClientConnection:
        ws = await connect(
            f"{self.ws_base}/v1/events?token={token}",
            open_timeout=60,
            # Browsers offer permessage-deflate; so does this client unless told not to.
            compression=None if self.args.no_compression else "deflate",
            # Nor do browsers send pings (they answer the server's): without this the client
            # library pings every 20 s, which the idle figure then counted as server work.
            ping_interval=None,
        )
        while json.loads(await ws.recv())["type"] != "ready":
            pass
        return ws

    async def read(self, ws: ClientConnection, user: str) -> None:
        try:
            async for raw in ws:
                now = time.perf_counter()
                if '"message.created"' in raw:
                    body = json.loads(raw)["data"]["body"]
                elif '"bench"' in raw:
                    body = json.loads(raw)["data"]["bench"]
                else:
                    continue
                # Count the recipient's copy (the seller's); the sender's own is not a delivery.
                if not user.startswith("s"):
                    continue
                if body in self.sent_at:
                    self.latencies.append((now - self.sent_at.pop(body)) * 1000)
                else:
                    self.arrived.setdefault(body, time.monotonic())
        except Exception:
            self.closed_early += 1

    async def send(self, client: httpx.AsyncClient, pair: tuple[Any, ...], n: int) -> None:
        _, _, cid, buyer_token, _ = pair
        body = f"m{n}"
        started = time.perf_counter()
        self.sent_at[body] = started
        try:
            r = await client.post(
                f"/v1/conversations/{cid}/messages",
                json={"body": body},
                headers={"Authorization": f"Bearer {buyer_token}"},
            )
            if r.status_code != 201:
                self.errors += 1
                self.sent_at.pop(body, None)
        except httpx.HTTPError:
            self.errors += 1
            self.sent_at.pop(body, None)
        self.http_ms.append((time.perf_counter() - started) * 1000)

    async def publish(self, redis: Any, prefix: str, pair: tuple[Any, ...], n: int) -> None:
        """Put a frame for the seller straight on Redis, as another app node would."""
        seller = pair[1]
        body = f"m{n}"
        frame = json.dumps({"id": None, "type": "typing", "data": {"bench": body}})
        self.sent_at[body] = time.perf_counter()
        await redis.publish(f"{prefix}:events:{seller}", f"bench-node - {frame}")

    async def drive(
        self,
        client: httpx.AsyncClient,
        pairs: list[Any],
        count: int,
        rate: float,
        redis: tuple[Any, str] | None = None,
    ) -> float:
        tasks = []
        start = time.perf_counter()
        for n in range(count):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pair = pairs[n % len(pairs)]
            if redis is not None:
                job = self.publish(redis[0], redis[1], pair, n)
            else:
                job = self.send(client, pair, n)
            tasks.append(asyncio.create_task(job))
        await asyncio.gather(*tasks)
        return time.perf_counter() - start


async def drive_from_process(
    bench: Bench, port: int, pairs: list[Any], count: int, rate: float, folder: Path
) -> dict[str, Any]:
    """The sends from a second client process (bench/sender.py), the receivers here; the
    latencies joined afterwards on the machine's monotonic clock."""
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "pairs": [[cid, buyer_token] for _, _, cid, buyer_token, _ in pairs],
        "count": count,
        "rate": rate,
        "start_at": time.monotonic() + 1.5,  # time to start and connect
        "connections": 64,
    }
    spec_path, result_path = folder / "sender-spec.json", folder / "sender-result.json"
    spec_path.write_text(json.dumps(spec))
    bench.arrived.clear()
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("sender.py")), str(spec_path), str(result_path)
    )
    if await child.wait() != 0:
        raise RuntimeError("the sender process failed")
    result: dict[str, Any] = json.loads(result_path.read_text())
    sends = result["sends"]
    delivered = {f"m{n}" for n, _, _, status in sends if status == 201}
    deadline = time.monotonic() + 10  # late frames count as not delivered
    while not delivered <= bench.arrived.keys() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    starts = [started for _, started, _, _ in sends]
    return {
        "latencies": [
            (bench.arrived[f"m{n}"] - started) * 1000
            for n, started, _, status in sends
            if status == 201 and f"m{n}" in bench.arrived
        ],
        "http_ms": [ms for _, _, ms, _ in sends],
        "errors": sum(1 for *_, status in sends if status != 201),
        "elapsed": max(starts) - min(starts) + 1 / rate,
        "sender_cpu_ms_per_message": round(result["cpu_seconds"] * 1000 / count, 3),
        "waited_for_a_connection": result["waited_for_a_connection"],
    }


def _start_server(
    port: int, env: dict[str, str], log: Any, workers: int = 1
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tradetalk.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="tradetalk-bench-"))
    failed = False
    pg_name = None
    if args.database == "postgresql":
        database_url, pg_name = await _pg_database()
    else:
        database_url = f"sqlite:///{workdir / 'bench.db'}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "TRADETALK_DATABASE_URL": database_url,
        "TRADETALK_SECRET_KEY": secrets.token_urlsafe(32),
        "TRADETALK_SERVER_API_KEY": SERVER_KEY,
        "TRADETALK_RATE_LIMITS": "false",
        "TRADETALK_LOG_LEVEL": "WARNING",
    }
    prefix = f"tt-bench-{uuid.uuid4().hex[:8]}"
    if args.redis or args.source == "redis":
        env["TRADETALK_REDIS_URL"] = REDIS_URL
        env["TRADETALK_REDIS_PREFIX"] = prefix
    redis = None
    if args.source == "redis":
        from redis.asyncio import Redis

        redis = Redis.from_url(REDIS_URL)
    log = (workdir / "server.log").open("wb")
    server = _start_server(port, env, log, args.workers)
    base = f"http://127.0.0.1:{port}"
    bench = Bench(args, base)
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    try:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {SERVER_KEY}"},
            timeout=30,
            limits=limits,
        ) as client:
            async with asyncio.timeout(60):
                while True:
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
            _progress(f"server up on {base}; creating {args.sockets // 2} buyer/seller pairs")
            pairs = await bench.setup(client)
            _progress("warming up the send path")
            # Warm the send path (and the server's caches) before measuring memory.
            await bench.drive(client, pairs, min(200, 2 * len(pairs)), max(args.rate, 100))
            await asyncio.sleep(1)
            rss_before = _rss_kb(server.pid)
            _progress(f"opening {args.sockets} event sockets")

            gate = asyncio.Semaphore(50)
            users = [(p[1], p[4]) for p in pairs] + [(p[0], p[3]) for p in pairs]

            async def open_one(user: str, token: str) -> None:
                async with gate:
                    ws = await bench.open_socket(token)
                sockets.append(ws)
                readers.append(asyncio.create_task(bench.read(ws, user)))

            await asyncio.gather(*(open_one(user, token) for user, token in users))
            await asyncio.sleep(3)  # idle
            rss_after = _rss_kb(server.pid)
            idle_cpu = None
            if args.idle_seconds > 0:
                # What open, idle sockets cost: heartbeats, the periodic token re-check.
                _progress(f"measuring {args.idle_seconds:g} s of idle sockets")
                idle_before = process_tree_cpu_seconds(server.pid)
                await asyncio.sleep(args.idle_seconds)
                idle_cpu = process_tree_cpu_seconds(server.pid) - idle_before
            _progress(f"sending {int(args.rate * args.seconds)} messages at {args.rate}/s")

            bench.sent_at.clear()
            bench.http_ms.clear()
            count = int(args.rate * args.seconds)
            cpu_before = process_tree_cpu_seconds(server.pid)
            # Where the machine's two cores go: this process (the sockets' reader, and the
            # sends too with --sender inline) and PostgreSQL's processes, beside the server's.
            reader_before, postgresql_before = time.process_time(), postgresql_cpu_seconds()
            sender: dict[str, Any] | None = None
            if args.source == "http" and args.sender == "process":
                sender = await drive_from_process(bench, port, pairs, count, args.rate, workdir)
                elapsed = sender["elapsed"]
                bench.latencies, bench.http_ms = sender["latencies"], sender["http_ms"]
                bench.errors = sender["errors"]
            else:
                elapsed = await bench.drive(
                    client, pairs, count, args.rate, (redis, prefix) if redis else None
                )
            cpu_used = process_tree_cpu_seconds(server.pid) - cpu_before
            reader_cpu = time.process_time() - reader_before
            postgresql_cpu = postgresql_cpu_seconds() - postgresql_before
            sender_cpu = (sender["sender_cpu_ms_per_message"] * count / 1000) if sender else 0.0
            deadline = time.perf_counter() + 10  # late frames count as not delivered
            while bench.sent_at and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        return {
            "benchmark": "realtime",
            "database": args.database,
            "broker": "redis" if args.redis or args.source == "redis" else "memory",
            "source": args.source,
            "sender": (
                {
                    "process": "bench/sender.py, its own process",
                    "cpu_ms_per_message": sender["sender_cpu_ms_per_message"],
                    "waited_for_a_connection": sender["waited_for_a_connection"],
                }
                if sender is not None
                else "this process"
            ),
            "client_offers_compression": not args.no_compression,
            "open_sockets": len(sockets),
            "target_rate_per_s": args.rate,
            "achieved_rate_per_s": round(count / elapsed, 1),
            "messages": count,
            "delivered": len(bench.latencies),
            "send_errors": bench.errors,
            "sockets_closed_early": bench.closed_early,
            "send_to_receive_ms": _percentiles(bench.latencies),
            "http_send_ms": _percentiles(bench.http_ms) if args.source == "http" else None,
            "server_cpu_ms_per_message": round(cpu_used * 1000 / count, 3),
            "this_process_cpu_ms_per_message": round(reader_cpu * 1000 / count, 3),
            "postgresql_cpu_ms_per_message": (
                round(postgresql_cpu * 1000 / count, 3) if args.database == "postgresql" else None
            ),
            # Cores kept busy while sending: the server, PostgreSQL, this process and the sender
            # process together, against the machine's os.cpu_count().
            "cores_busy": round(
                (
                    cpu_used
                    + reader_cpu
                    + sender_cpu
                    + (postgresql_cpu if args.database == "postgresql" else 0.0)
                )
                / elapsed,
                2,
            ),
            "server_rss_mb": {
                "before_sockets": round(rss_before / 1024, 1),
                "with_idle_sockets": round(rss_after / 1024, 1),
            },
            "memory_per_idle_socket_kb": round((rss_after - rss_before) / len(sockets), 1),
            "idle_seconds": args.idle_seconds,
            "server_cpu_us_per_idle_socket_second": (
                round(idle_cpu / args.idle_seconds / len(sockets) * 1e6, 3)
                if idle_cpu is not None
                else None
            ),
        }
    except BaseException:
        failed = True
        raise
    finally:
        for reader in readers:
            reader.cancel()
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if redis is not None:
            await redis.aclose()
        if pg_name:
            await _drop_pg(pg_name)
        if failed:  # the server's log and database are kept for a look
            _progress(f"kept {workdir} (server.log)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=500.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--redis", action="store_true", help="use the Redis broker")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (`serve --workers`); more than one needs --redis and PostgreSQL",
    )
    parser.add_argument(
        "--source",
        choices=["http", "redis"],
        default="http",
        help="http: messages sent through the API (the whole path: auth, store, commit, "
        "fan-out); redis: frames published straight to Redis as another node would "
        "(fan-out alone; implies the Redis broker)",
    )
    parser.add_argument(
        "--sender",
        choices=["process", "inline"],
        default="process",
        help="process: the API sends come from a second client process (bench/sender.py) "
        "while this one holds the sockets; inline: from this process, with httpx",
    )
    parser.add_argument(
        "--no-compression", action="store_true", help="do not offer permessage-deflate"
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=0.0,
        help="also measure the server's CPU while the sockets sit idle this long "
        "(heartbeats every 25 s, token re-checks every 60 s)",
    )
    args = parser.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
