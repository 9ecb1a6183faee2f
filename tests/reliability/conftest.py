"""Real processes for the reliability tests: `tradetalk serve` and `tradetalk worker` as
subprocesses (each in its own process group) on a database made for the test."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, SECRET, SERVER_KEY, require_service
from tests.fixtures.processes import free_port, until_answering

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # seconds for a subprocess to migrate and answer /readyz


class Laps:
    """How long each phase of a test took (wall clock), for its printed figures."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def __call__(self, phase: str) -> None:
        now = time.monotonic()
        self.seconds[phase] = round(now - self._last, 2)
        self._last = now


class Proc:
    """A `tradetalk ...` subprocess in its own process group, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tradetalk.cli", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,  # its own group: a kill reaches everything it started
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self, tail: int = 4000) -> str:
        """The end of the process's log (for assertion messages)."""
        return self.log.read_text(errors="replace")[-tail:]

    def kill(self) -> None:
        """SIGKILL the whole group: no shutdown hooks, no flushing, like a power cut."""
        if self.alive:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 15 s."""
        if self.alive:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        self.kill()


class Server(Proc):
    """`tradetalk serve` on a free loopback port."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        super().__init__(
            name, ["serve", "--host", "127.0.0.1", "--port", str(self.port)], env, log_dir
        )

    async def wait_ready(self) -> None:
        """Wait until the server answers /readyz (it migrates the database first)."""
        await until_answering(
            self.url,
            "/readyz",
            alive=lambda: self.alive,
            output=lambda: f"{self.name} exited:\n{self.output()}",
            seconds=START_TIMEOUT,
        )


class Processes:
    """Starts subprocesses for a test and kills every one of them at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Proc] = []

    def server(self, name: str, env: dict[str, str]) -> Server:
        server = Server(name, env, self.log_dir)
        self.started.append(server)
        return server

    def worker(self, name: str, env: dict[str, str]) -> Proc:
        worker = Proc(name, ["worker"], env, self.log_dir)
        self.started.append(worker)
        return worker

    def close(self) -> None:
        for proc in self.started:
            proc.kill()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Subprocess starter; whatever it started is SIGKILLed after the test."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.close()


def _pg_admin(sql: str) -> None:
    async def run() -> None:
        import asyncpg

        connection = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    # The test's event loop may be running in this thread: use a thread of our own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database that does not exist yet (SQLite) or is empty (a PostgreSQL
    database created for this test and dropped after it); `tradetalk serve` migrates it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tradetalk.db'}"
        return
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"tradetalk_rel_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def base_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a tradetalk subprocess: keys, database, files under tmp_path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TRADETALK_") or key == "TRADETALK_TEST_PG_URL"
    }
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "TRADETALK_DATABASE_URL": database_url,
            "TRADETALK_SECRET_KEY": SECRET,
            "TRADETALK_SERVER_API_KEY": SERVER_KEY,
            "TRADETALK_RATE_LIMITS": "false",
            "TRADETALK_LOG_JSON": "false",
            "TRADETALK_MAIL_DIR": str(tmp_path / "mail"),
            "TRADETALK_MEDIA_DIR": str(tmp_path / "media"),
            # A CI machine running the suite on both cores can take longer than production's
            # 2 s to open a PostgreSQL connection or free a pooled one; that is load, not an
            # outage (tests of outages set their own).
            "TRADETALK_DB_CONNECT_TIMEOUT_SECONDS": "15",
            "TRADETALK_DB_POOL_TIMEOUT_SECONDS": "30",
        }
    )
    env.update(extra)
    return env


@dataclass
class Party:
    """A marketplace user with a token."""

    id: str
    token: str


@dataclass
class Thread:
    """A transaction's conversation and its two parties."""

    transaction_id: str
    conversation_id: int
    buyer: Party
    seller: Party

    @property
    def parties(self) -> tuple[Party, Party]:
        return self.buyer, self.seller


async def _party(server: httpx.AsyncClient, user_id: str) -> Party:
    response = await server.put(
        f"/v1/users/{user_id}",
        json={"display_name": user_id.replace("-", " ").title(), "email": f"{user_id}@example.com"},
    )
    assert response.status_code in (200, 201), response.text
    # Long enough for a soak under CI plus restarts; the default hour would also do.
    response = await server.post(f"/v1/users/{user_id}/tokens", json={"ttl_seconds": 4 * 3600})
    assert response.status_code == 201, response.text
    return Party(user_id, response.json()["token"])


async def make_threads(base_url: str, count: int, prefix: str) -> list[Thread]:
    """`count` transactions between distinct buyers and sellers, each with its conversation
    opened, made through the server API as an operator would."""
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {SERVER_KEY}"}, timeout=30
    ) as server:

        async def make(index: int) -> Thread:
            buyer = await _party(server, f"{prefix}-buyer-{index}")
            seller = await _party(server, f"{prefix}-seller-{index}")
            transaction_id = f"{prefix}-txn-{index}"
            response = await server.put(
                f"/v1/transactions/{transaction_id}",
                json={
                    "buyer_id": buyer.id,
                    "seller_id": seller.id,
                    "title": f"Vintage camera lens {index}",
                    "status": "paid",
                    "amount_minor": 12500,
                    "currency": "USD",
                },
            )
            assert response.status_code in (200, 201), response.text
            async with user_client(base_url, buyer) as client:
                response = await client.get(f"/v1/transactions/{transaction_id}/conversation")
                assert response.status_code == 200, response.text
            return Thread(transaction_id, response.json()["id"], buyer, seller)

        return list(await asyncio.gather(*(make(index) for index in range(count))))


@asynccontextmanager
async def user_client(base_url: str, party: Party) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client holding a user's token."""
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {party.token}"},
        timeout=30,
        # Idle connections are dropped well before the server's keep-alive timeout (5 s), so a
        # request never races the server closing the connection it is reusing.
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=50, keepalive_expiry=2.0),
    ) as client:
        yield client
