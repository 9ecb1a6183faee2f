"""Two app nodes behind nginx on one machine: send throughput, and delivery across nodes.

The multi-node layout of docs/scaling.md, measured on this machine: one PostgreSQL database,
Redis for fan-out between nodes, two `tradetalk serve` processes (nodes A and B, the outbox
worker off inside them) and one `tradetalk worker` process, behind one nginx (Debian's package,
installed with apt-get when missing) that listens on three loopback ports:

- `both`: round-robin over A and B (the two-node cluster);
- `a`: node A only (the one-node cluster, through the same proxy);
- `b`: node B only (to send through B on purpose).

Measured, each send through the same load generator as bench/send.py (its `seed` and
`drive_sends`):

- send throughput and latency at each concurrency (16 and 64): one node direct (no proxy),
  one node through nginx, two nodes through nginx; `--rounds` rounds, the order reversed every
  other round so that drift on a shared machine does not favour one layout;
- delivery: WebSockets opened through nginx on node A (`a`), messages sent at a fixed rate
  through node A (same node: fan-out inside the process) and then through node B (cross node:
  B commits, publishes on Redis, A's subscription delivers); time from the POST leaving the
  client to the frame arriving on the recipient's socket.

Both nodes share the machine's cores with each other, with PostgreSQL, Redis, nginx and the
load generator; on 2 cores two nodes cannot double throughput (see docs/scaling.md).
Prints one JSON document; progress on stderr.

    python bench/twonode.py [--quick] [--concurrency 16,64] [--duration 10] [--rounds 4]
                            [--conversations 1000] [--sockets 100] [--rate 10]
                            [--delivery-seconds 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness import (
    CLOCK_TICKS,
    Server,
    emit,
    ensure_debian_package,
    free_port,
    fresh_database,
    machine,
    percentiles,
    progress,
    run,
    stop_process,
    wait_until_ready,
    workdir,
)
from send import Thread, drive_sends, seed
from tradetalk.migrate import upgrade_async

REDIS_URL = os.environ.get("TRADETALK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")

NGINX_CONF = """\
# Written by bench/twonode.py for one run; everything it writes stays in {root}.
daemon off;
master_process on;
worker_processes 1;  # leave the cores to the app nodes: a proxy worker needs little
pid {root}/nginx.pid;
error_log {root}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 100000;

    # WebSocket: pass the upgrade on; plain requests get an empty Connection header, which
    # lets nginx keep its upstream connections alive.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}

{upstreams}
{servers}
}}
"""

UPSTREAM = """\
    upstream {name} {{
{members}
        keepalive 128;
        keepalive_requests 100000;
        # Under the app's own idle timeout (TRADETALK_HTTP_KEEP_ALIVE_SECONDS, 75 s), so nginx
        # never reuses a connection the node is closing.
        keepalive_timeout 60s;
    }}
"""

SERVER = """\
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 3600s;  # event streams stay open; heartbeats every 25 s
            proxy_send_timeout 3600s;
        }}
    }}
"""


def find_nginx() -> str | None:
    """The nginx binary, if installed."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None)


def ensure_nginx() -> str:
    """nginx from Debian: installed with apt-get when missing (as root), else a clear exit."""
    return ensure_debian_package("nginx", find_nginx, needed_by="twonode.py")


def nginx_version(binary: str) -> str:
    """`nginx version: nginx/1.22.1` (nginx -v prints it on stderr)."""
    return subprocess.run([binary, "-v"], capture_output=True, text=True).stderr


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    """Direct children of a process (nginx's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class PostgresBackends:
    """CPU time of the PostgreSQL backends serving one database, sampled from /proc.

    Backends come and go (the app's pool closes its overflow connections), and a process's CPU
    time vanishes with it, so a background task notes each backend's time every 0.2 s; what a
    backend used in its last 0.2 s is missed. PostgreSQL's shared processes (WAL writer,
    checkpointer) are not counted."""

    INTERVAL = 0.2

    def __init__(self, database: str) -> None:
        self.marker = f" {database} ".encode()
        self.seen: dict[int, float] = {}  # pid -> latest CPU seconds
        self.ignored: set[int] = set()
        self.task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if pid in self.ignored:
                continue
            if pid not in self.seen:
                try:
                    command = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if not (command.startswith(b"postgres: ") and self.marker in command):
                    self.ignored.add(pid)
                    continue
            cpu = process_cpu_seconds(pid)
            if cpu:
                self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))

    def cpu_seconds(self) -> float:
        """CPU of every backend seen so far (each at its latest sample)."""
        self.sample()
        return sum(self.seen.values())

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.INTERVAL)

    async def __aenter__(self) -> PostgresBackends:
        self.task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class Nginx:
    """nginx in the foreground, as a child process, with its config, pid and logs in a temp dir."""

    def __init__(self, binary: str, upstreams: dict[str, list[int]]) -> None:
        self.binary = binary
        self.upstreams = upstreams
        self.ports = {name: free_port() for name in upstreams}
        self.root = Path(tempfile.mkdtemp(prefix="tradetalk-nginx-"))
        # nginx's workers drop root for `nobody`, and must reach their temp folders in here.
        self.root.chmod(0o755)
        self.process: asyncio.subprocess.Process | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def config(self) -> str:
        upstreams = "\n".join(
            UPSTREAM.format(
                name=name,
                members="\n".join(f"        server 127.0.0.1:{port};" for port in ports),
            )
            for name, ports in self.upstreams.items()
        )
        servers = "\n".join(
            SERVER.format(port=self.ports[name], upstream=name) for name in self.upstreams
        )
        return NGINX_CONF.format(root=self.root, upstreams=upstreams, servers=servers)

    async def __aenter__(self) -> Nginx:
        try:
            return await self._start()
        except BaseException:
            await self.__aexit__()
            raise

    async def _start(self) -> Nginx:
        conf = self.root / "nginx.conf"
        conf.write_text(self.config())
        error_log = self.root / "error.log"
        command = [self.binary, "-p", str(self.root), "-c", str(conf), "-e", str(error_log)]
        check = await asyncio.create_subprocess_exec(
            *command, "-t", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await check.communicate()
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejected its config:\n{output.decode()}")
        with (self.root / "stderr.log").open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 15
        for name in self.upstreams:
            remaining = deadline - time.monotonic()
            problem = await wait_until_ready(
                self.process, self.url(name) + "/readyz", within=remaining
            )
            if problem is not None:
                raise RuntimeError(f"nginx {problem} on {name}:\n{self.errors()}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self.process is not None:
                # SIGTERM: fast shutdown of master and workers
                await stop_process(self.process, grace=10)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def cpu_seconds(self) -> float:
        """Master and workers."""
        assert self.process is not None
        pids = [self.process.pid, *children(self.process.pid)]
        return sum(process_cpu_seconds(pid) for pid in pids)

    def errors(self) -> str:
        texts = []
        for name in ("error.log", "stderr.log"):
            with contextlib.suppress(OSError):
                texts.append((self.root / name).read_text()[-2000:])
        return "\n".join(texts)


class OutboxWorker:
    """`tradetalk worker` in its own process, with the nodes' settings."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.log_path = folder / "worker.log"
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> OutboxWorker:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tradetalk.cli", "worker",
                env=self.env, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while b"worker running" not in self.log_path.read_bytes():
            if self.process.returncode is not None or time.monotonic() > deadline:
                await self.__aexit__()
                raise RuntimeError(f"worker did not start:\n{self.log_path.read_text()}")
            await asyncio.sleep(0.1)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.process is not None:
            await stop_process(self.process, grace=15)

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)


@dataclass
class Endpoint:
    """What send.py's load generator needs of a "server": where to connect and whose CPU counts.

    Duck-types `harness.Server` for `seed` and `drive_sends`."""

    base_url: str
    nodes: list[Server]
    client = Server.client

    def cpu_seconds(self) -> float:
        """The app nodes' CPU: drive_sends turns it into CPU per message for the cluster."""
        return sum(node.cpu_seconds() for node in self.nodes)

    def errors_logged(self) -> str:
        """The end of each app node's log, for drive_sends' report when a send failed."""
        return "\n".join(f"--- {node.log_path}\n{node.errors_logged()}" for node in self.nodes)


@dataclass
class Cluster:
    node_a: Server
    node_b: Server
    worker: OutboxWorker
    nginx: Nginx
    postgres: PostgresBackends
    layouts: dict[str, Endpoint] = field(default_factory=dict)

    def cpu(self) -> dict[str, float]:
        return {
            "node_a": self.node_a.cpu_seconds(),
            "node_b": self.node_b.cpu_seconds(),
            "worker": self.worker.cpu_seconds(),
            "nginx": self.nginx.cpu_seconds(),
            "postgresql_backends": self.postgres.cpu_seconds(),
        }


LAYOUTS = ("one_node_direct", "one_node_nginx", "two_nodes_nginx")


def mean_of(figures: Iterable[dict[str, float]]) -> dict[str, float]:
    """Key by key mean of dicts of numbers."""
    rows = list(figures)
    return {key: round(sum(row[key] for row in rows) / len(rows), 3) for key in rows[0]}


async def measure_sends(
    cluster: Cluster, threads: list[Thread], options: argparse.Namespace
) -> dict[str, Any]:
    """Every layout at every concurrency, `rounds` times (order reversed every other round)."""
    figures: dict[str, dict[str, list[dict[str, Any]]]] = {
        str(c): {name: [] for name in LAYOUTS} for c in options.concurrency
    }
    for round_number in range(options.rounds):
        order = LAYOUTS if round_number % 2 == 0 else tuple(reversed(LAYOUTS))
        for concurrency in options.concurrency:
            for name in order:
                progress(
                    f"round {round_number + 1}/{options.rounds}: {name} "
                    f"at concurrency {concurrency}"
                )
                before = cluster.cpu()
                result = await drive_sends(
                    cluster.layouts[name], threads, concurrency=concurrency,  # type: ignore[arg-type]
                    duration=options.duration, client_ids=True,
                    seed_value=round_number * 1000 + concurrency,
                )  # fmt: skip
                after = cluster.cpu()
                sent = max(result["messages"], 1)
                used = {key: after[key] - before[key] for key in after}
                used["load_generator"] = (result["client_cpu_ms_per_message"] or 0) * sent / 1000
                result["cpu_ms_per_message"] = {
                    key: round(seconds / sent * 1000, 3) for key, seconds in used.items()
                }
                # How many cores each part kept busy: on a shared machine the cluster gets
                # only its share, whatever the number of nodes.
                result["cores_busy"] = {
                    key: round(seconds / result["seconds"], 3) for key, seconds in used.items()
                }
                result["cores_busy"]["all_measured"] = round(
                    sum(used.values()) / result["seconds"], 3
                )
                figures[str(concurrency)][name].append(result)
    summary: dict[str, Any] = {}
    for concurrency, layouts in figures.items():
        summary[concurrency] = {}
        for name, runs in layouts.items():
            messages = sum(r["messages"] for r in runs)
            seconds = sum(r["seconds"] for r in runs)
            summary[concurrency][name] = {
                "per_second": round(messages / seconds, 1) if seconds else 0.0,
                "per_second_each_round": [r["per_second"] for r in runs],
                "p50_ms_each_round": [r["latency"]["p50_ms"] for r in runs],
                "p99_ms_each_round": [r["latency"]["p99_ms"] for r in runs],
                "errors": sum(sum(r["errors"].values()) for r in runs),
                "cpu_ms_per_message_mean": mean_of(r["cpu_ms_per_message"] for r in runs),
                "cores_busy_mean": mean_of(r["cores_busy"] for r in runs),
                "rounds": runs,
            }
        one = summary[concurrency]["one_node_nginx"]["per_second"]
        two = summary[concurrency]["two_nodes_nginx"]["per_second"]
        summary[concurrency]["two_vs_one_node"] = round(two / one, 2) if one else None
    return summary


@dataclass
class Deliveries:
    """Frames expected on the recipients' sockets, and when each was sent and arrived."""

    sent_at: dict[str, float] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)  # when the sender had its 201
    arrivals: dict[str, float] = field(default_factory=dict)

    async def read(self, ws: Any) -> None:
        """Note the arrival of every message.created frame that was sent by this benchmark."""
        with contextlib.suppress(Exception):
            async for raw in ws:
                now = time.perf_counter()
                if '"message.created"' not in raw:
                    continue
                body = json.loads(raw)["data"]["body"]
                if body in self.sent_at and body not in self.arrivals:
                    self.arrivals[body] = now


async def delivery_phase(
    phase: str,
    base_url: str,
    recipients: list[Thread],
    tracker: Deliveries,
    options: argparse.Namespace,
) -> dict[str, Any]:
    """Messages to the recipients at a fixed rate through `base_url`; time to their sockets."""
    http_seconds: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as api:

        async def send_one(thread: Thread, body: str) -> None:
            nonlocal errors
            started = time.perf_counter()
            tracker.sent_at[body] = started
            response = await api.post(
                f"/v1/conversations/{thread.conversation_id}/messages",
                json={"body": body, "client_message_id": uuid.uuid4().hex},
                headers={"Authorization": f"Bearer {thread.buyer.token}"},
            )
            answered = time.perf_counter()
            http_seconds.append(answered - started)
            tracker.answered_at[body] = answered
            if response.status_code != 201:
                errors += 1
                tracker.sent_at.pop(body, None)

        count = int(options.rate * options.delivery_seconds)
        rng = random.Random(phase)
        tasks = []
        began = time.perf_counter()
        for n in range(count):
            delay = began + n / options.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = f"delivery {phase} #{n}"
            tasks.append(asyncio.create_task(send_one(rng.choice(recipients), body)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    mine = [body for body in tracker.sent_at if body.startswith(f"delivery {phase} ")]
    deadline = time.perf_counter() + 10  # what has not arrived by then is lost
    while any(b not in tracker.arrivals for b in mine) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    arrived = [b for b in mine if b in tracker.arrivals]
    return {
        "messages": count,
        "achieved_rate_per_s": round(count / elapsed, 1),
        "delivered": len(arrived),
        "lost": len(mine) - len(arrived),
        "send_errors": errors,
        # From the POST leaving the client to the frame on the recipient's socket.
        "send_to_receive": percentiles([tracker.arrivals[b] - tracker.sent_at[b] for b in arrived]),
        "http_send": percentiles(http_seconds),
        # Frame arrival minus the sender's 201 (negative: the recipient had it first).
        "receive_minus_201": percentiles(
            [tracker.arrivals[b] - tracker.answered_at[b] for b in arrived]
        ),
    }


async def measure_delivery(
    cluster: Cluster, threads: list[Thread], options: argparse.Namespace
) -> dict[str, Any]:
    """Sockets on node A (through nginx); sends through A, then through B."""
    from websockets.asyncio.client import connect

    by_seller: dict[str, Thread] = {}
    for thread in threads:
        by_seller.setdefault(thread.seller.user_id, thread)
    recipients = list(by_seller.values())[: options.sockets]
    tracker = Deliveries()
    sockets = []
    readers: list[asyncio.Task[None]] = []
    ws_base = cluster.nginx.url("a").replace("http://", "ws://")
    try:
        for thread in recipients:
            ws = await connect(f"{ws_base}/v1/events?token={thread.seller.token}", open_timeout=30)
            sockets.append(ws)
            while json.loads(await ws.recv())["type"] != "ready":
                pass
            readers.append(asyncio.create_task(tracker.read(ws)))
        results: dict[str, Any] = {
            "sockets_on_node_a": len(sockets),
            "via": "WebSockets and sends through nginx (ports routing to one node each)",
            "rate_per_s": options.rate,
            "seconds": options.delivery_seconds,
        }
        for phase, through in (("same_node", "a"), ("cross_node", "b")):
            progress(f"delivery {phase}: sockets on node A, sends through node {through.upper()}")
            results[phase] = {"sent_through": f"node {through.upper()}"} | await delivery_phase(
                phase, cluster.nginx.url(through), recipients, tracker, options
            )
        for figure in ("send_to_receive", "receive_minus_201"):
            same = results["same_node"][figure]["p50_ms"]
            cross = results["cross_node"][figure]["p50_ms"]
            results[f"cross_minus_same_{figure}_p50_ms"] = round(cross - same, 3)
        return results
    finally:
        for reader in readers:
            reader.cancel()
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()


@contextlib.contextmanager
def _stage(name: str) -> Iterator[None]:
    began = time.perf_counter()
    yield
    progress(f"{name} took {time.perf_counter() - began:.0f} s")


async def main(options: argparse.Namespace, binary: str) -> dict[str, Any]:
    version = (await asyncio.to_thread(nginx_version, binary)).strip()
    prefix = f"tt-bench-{uuid.uuid4().hex[:8]}"
    document: dict[str, Any] = {
        "benchmark": "twonode",
        "quick": options.quick,
        "machine": machine(),
        "layout": {
            "database": "postgresql",
            "broker": "redis",
            "app_nodes": 2,
            "outbox_workers": 1,
            "proxy": version,
            "proxy_worker_processes": 1,
            "uvicorn_workers_per_node": 1,
        },
        "duration_seconds": options.duration,
    }
    settings = {
        "redis_url": REDIS_URL,
        "redis_prefix": prefix,
        "worker_embedded": "false",
        "trusted_proxies": "127.0.0.1",
    }
    with workdir() as folder:
        async with fresh_database("postgresql", folder) as url:
            # Once, before any node starts: two nodes migrating a fresh database at the same
            # moment would race (each `serve` also migrates, a no-op once this is done).
            await upgrade_async(url)
            async with contextlib.AsyncExitStack() as stack:
                node_a = await stack.enter_async_context(Server(url, folder, **settings))
                node_b = await stack.enter_async_context(Server(url, folder, **settings))
                worker = await stack.enter_async_context(OutboxWorker(dict(node_a.env), folder))
                nginx = await stack.enter_async_context(
                    Nginx(binary, {"both": [node_a.port, node_b.port], "a": [node_a.port],
                                   "b": [node_b.port]})
                )  # fmt: skip
                postgres = await stack.enter_async_context(PostgresBackends(url.rpartition("/")[2]))
                cluster = Cluster(node_a, node_b, worker, nginx, postgres)
                cluster.layouts = {
                    "one_node_direct": Endpoint(node_a.base_url, [node_a, node_b]),
                    "one_node_nginx": Endpoint(nginx.url("a"), [node_a, node_b]),
                    "two_nodes_nginx": Endpoint(nginx.url("both"), [node_a, node_b]),
                }
                progress(f"nodes on :{node_a.port} and :{node_b.port}, nginx on {nginx.ports}")
                with _stage("seeding"):
                    progress(f"seeding {options.conversations} conversations through nginx")
                    threads = await seed(cluster.layouts["two_nodes_nginx"], options.conversations)  # type: ignore[arg-type]
                if options.warmup > 0:
                    await drive_sends(
                        cluster.layouts["two_nodes_nginx"], threads,  # type: ignore[arg-type]
                        concurrency=min(options.concurrency), duration=options.warmup,
                        client_ids=True, seed_value=0,
                    )  # fmt: skip
                with _stage("sends"):
                    document["send"] = await measure_sends(cluster, threads, options)
                with _stage("delivery"):
                    document["delivery"] = await measure_delivery(cluster, threads, options)
                document["nginx_errors"] = [
                    line for line in nginx.errors().splitlines() if "[error]" in line
                ][:20]
    return document


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--concurrency",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[16, 64],
        help="comma-separated concurrency levels (default 16,64)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured sends")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of every layout")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--sockets", type=int, default=100, help="recipients' sockets on node A")
    parser.add_argument("--rate", type=float, default=10.0, help="delivery: messages per second")
    parser.add_argument("--delivery-seconds", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="a few seconds: smoke run only")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    options = parser.parse_args()
    if options.quick:
        options.duration, options.warmup, options.rounds = 1.0, 0.0, 1
        options.concurrency, options.conversations = [4], 20
        options.sockets, options.delivery_seconds = 2, 2.0
    return options


if __name__ == "__main__":
    arguments = parse_args()
    emit(run(main(arguments, ensure_nginx())), arguments.out)
