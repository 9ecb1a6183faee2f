"""What the benchmarks share: fresh databases, a real server process, percentiles, CPU time.

The server is started the way an operator starts it (`python -m tradetalk.cli serve`) on a free
loopback port, against a database made for the run and dropped afterwards, and it runs the
same tradetalk package the benchmark itself imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import timeit
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

import tradetalk

T = TypeVar("T")

DATABASES = ("sqlite", "postgresql")
PG_ADMIN_URL = os.environ.get("TRADETALK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SERVER_KEY = "bench-server-key-" + secrets.token_hex(8)
SECRET_KEY = "bench-secret-" + secrets.token_hex(24)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run the load generator on uvloop when installed (as uvicorn runs the server).

    SIGTERM stops it like Ctrl-C does, so the server is stopped and the database dropped."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(main)
    return uvloop.run(main)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean of latencies, in milliseconds (nearest-rank)."""
    if not seconds:
        return {"p50_ms": math.nan, "p95_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan}
    ordered = sorted(seconds)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

    return {
        "p50_ms": round(rank(50), 3),
        "p95_ms": round(rank(95), 3),
        "p99_ms": round(rank(99), 3),
        "max_ms": round(ordered[-1] * 1000, 3),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 3),
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (all its threads), from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine() -> dict[str, Any]:
    """What the figures were measured on, with a CPU yardstick to scale them by.

    `python_loop_us` is the best time of `sum(range(1000))`: roughly 5-10 us on a current desktop
    core; a larger figure means a slower (or busier) machine, and CPU times scale with it."""
    loop = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000
    return {
        "cpus": os.cpu_count(),
        "python_loop_us": round(loop * 1e6, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def emit(document: dict[str, Any], out: Path | None) -> None:
    """Print the result as JSON (and write it to --out)."""
    text = json.dumps(document, indent=2, sort_keys=False)
    print(text)
    if out is not None:
        out.write_text(text + "\n")


def progress(message: str) -> None:
    """Progress goes to stderr; stdout carries only the JSON document."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def workdir() -> Iterator[Path]:
    """A scratch folder for SQLite files and server logs, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tradetalk-bench-") as path:
        yield Path(path)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def fresh_database(
    kind: str, folder: Path, *, prefix: str = "tradetalk_bench", c_collation: bool = False
) -> AsyncIterator[str]:
    """A new, empty database of this kind (plain URL); a PostgreSQL one is dropped after.

    `c_collation` makes the PostgreSQL database with the C locale from `template0`, which
    Synapse insists on."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{prefix}.db'}"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    locale = (
        " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" if c_collation else ""
    )
    await _pg_admin(f'CREATE DATABASE "{name}"{locale}')
    try:
        yield f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def wait_until_ready(
    process: asyncio.subprocess.Process,
    url: str,
    *,
    within: float,
    interval: float = 0.1,
    request_timeout: float = 2,
) -> str | None:
    """Poll `url` until it answers 200 while `process` runs: None once it does, otherwise
    what went wrong ("exited early" or "never answered")."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=request_timeout) as client:
        while True:
            if process.returncode is not None:
                return "exited early"
            try:
                if (await client.get(url)).status_code == 200:
                    return None
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                return "never answered"
            await asyncio.sleep(interval)


async def stop_process(process: asyncio.subprocess.Process, *, grace: float) -> None:
    """SIGTERM, and SIGKILL if it is still running `grace` seconds later."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        process.kill()
        await process.wait()


def process_tree(pid: int) -> list[int]:
    """A process and its live descendants (`serve --workers N` runs one per worker)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found.append(current)
        pending += [int(child) for child in children]
    return found


def process_tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and of all its live descendants (`serve --workers N`)."""
    total = 0.0
    for each in process_tree(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += process_cpu_seconds(each)
    return total


def postgresql_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process of this machine so far (the postmaster, its
    backends, the WAL writer, the checkpointer...): what the database spends for a load, when
    nothing else uses it meanwhile."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().startswith("postgres"):
                total += process_cpu_seconds(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # gone meanwhile
    return total


class Server:
    """`tradetalk serve` in its own process on a free loopback port (`workers` processes:
    `serve --workers N`, which needs PostgreSQL and `redis_url` in `settings`)."""

    def __init__(
        self, database_url: str, folder: Path, *, workers: int = 1, **settings: str
    ) -> None:
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / f"server-{self.port}.log"
        package_root = str(Path(tradetalk.__file__).resolve().parents[1])
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
        self.env |= {
            "PYTHONPATH": os.pathsep.join(
                filter(None, [package_root, os.environ.get("PYTHONPATH")])
            ),
            "TRADETALK_DATABASE_URL": database_url,
            "TRADETALK_SECRET_KEY": SECRET_KEY,
            "TRADETALK_SERVER_API_KEY": SERVER_KEY,
            "TRADETALK_RATE_LIMITS": "false",
            "TRADETALK_LOG_LEVEL": "WARNING",
        }
        self.env |= {f"TRADETALK_{name.upper()}": value for name, value in settings.items()}
        self.folder = folder
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Server:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tradetalk.cli", "serve", "--port", str(self.port),
                # Only when asked: an older tradetalk (an A/B run) has no --workers.
                *(["--workers", str(self.workers)] if self.workers > 1 else []),
                env=self.env, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        problem = await wait_until_ready(self.process, f"{self.base_url}/readyz", within=60)
        # Every process must listen before the load starts, or the first connections (kept
        # alive for the whole run) all go to the processes that were up first.
        deadline = time.monotonic() + 60
        while problem is None and len(self.listeners()) < self.workers:
            if time.monotonic() > deadline:
                problem = f"never had {self.workers} processes listening"
            await asyncio.sleep(0.1)
        if problem is None:
            return self
        await self.__aexit__()
        raise RuntimeError(f"server {problem}:\n{self.log_path.read_text()}")

    async def __aexit__(self, *exc_info: object) -> None:
        if self.process is None:
            return
        await stop_process(self.process, grace=15)
        self.process = None

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far (all its threads and, with
        several workers, all its processes)."""
        assert self.process is not None
        return process_tree_cpu_seconds(self.process.pid)

    def listeners(self) -> list[str]:
        """The listening sockets on the server's port (one per serving process), from /proc."""
        port = f":{self.port:04X}"
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
        return [
            line for line in lines if line.split()[1].endswith(port) and line.split()[3] == "0A"
        ]

    def errors_logged(self) -> str:
        """The server's log (WARNING and above), for the report when something failed."""
        return self.log_path.read_text()[-4000:]

    def client(self, *, connections: int, token: str | None = None) -> httpx.AsyncClient:
        """A keep-alive HTTP/1.1 client with a pool of `connections`."""
        headers = {"Authorization": f"Bearer {token or SERVER_KEY}"}
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=60,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )


async def gather_limited(
    calls: Sequence[Callable[[], Coroutine[Any, Any, T]]], concurrency: int
) -> list[T]:
    """Run the calls with at most `concurrency` in flight (seeding through the API)."""
    results: list[T | None] = [None] * len(calls)
    queue = iter(enumerate(calls))

    async def worker() -> None:
        for index, call in queue:
            results[index] = await call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results  # type: ignore[return-value]


async def closed_loop(
    request: Callable[[int], Awaitable[int]],
    *,
    concurrency: int,
    duration: float,
    ok: int,
    server_cpu: Callable[[], float],
) -> dict[str, Any]:
    """`concurrency` clients calling `request(n)` back to back for `duration` seconds.

    `request` makes the n-th request and answers its HTTP status; `ok` is the status that
    counts as done. The latency is that of the whole call; the CPU times are the server's
    (`server_cpu`, e.g. from /proc) and this load generator's over the same window."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    counter = 0

    async def client() -> None:
        nonlocal counter
        while time.perf_counter() < deadline:
            counter += 1
            started = time.perf_counter()
            status = await request(counter)
            elapsed = time.perf_counter() - started
            statuses[status] += 1
            if status == ok:
                latencies.append(elapsed)

    cpu_before = server_cpu()
    client_cpu_before = time.process_time()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(client() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    server_seconds = server_cpu() - cpu_before
    client_seconds = time.process_time() - client_cpu_before
    done = len(latencies)
    return {
        "messages": done,
        "seconds": round(seconds, 3),
        "per_second": round(done / seconds, 1),
        "latency": percentiles(latencies),
        "errors": {str(code): n for code, n in statuses.items() if code != ok},
        "server_cpu_seconds": round(server_seconds, 3),
        "server_cpu_ms_per_message": round(server_seconds / done * 1000, 3) if done else None,
        "client_cpu_ms_per_message": round(client_seconds / done * 1000, 3) if done else None,
    }


def parse_databases(value: str) -> list[str]:
    """`sqlite,postgresql` -> the list, checked."""
    kinds = [part.strip() for part in value.split(",") if part.strip()]
    unknown = sorted(set(kinds) - set(DATABASES))
    if unknown or not kinds:
        raise SystemExit(f"--databases takes a comma-separated subset of {', '.join(DATABASES)}")
    return kinds


def ensure_debian_package(package: str, find: Callable[[], str | None], *, needed_by: str) -> str:
    """A program from Debian's `package`: `find()` locates it; installed with apt-get when
    missing (as root), else a clear exit saying what to install."""
    found = find()
    if found:
        return found
    how = f"apt-get install -y {package}"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(f"{needed_by} needs {package}; install it first (Debian: `sudo {how}`)")
    progress(f"{package} not found: {how}")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", package]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        progress("apt-get install failed; updating the package lists and trying again")
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=True)
    found = find()
    if not found:
        raise SystemExit(f"{package} is still missing after apt-get install")
    return found
