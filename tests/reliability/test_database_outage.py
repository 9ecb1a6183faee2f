"""PostgreSQL stopped hard and started again under a load of sends: the service fails fast with
503 and Retry-After while it is away, recovers by itself, and nothing is half-written.

The test runs its own PostgreSQL cluster (initdb on a temporary directory, a free loopback
port) so that stopping it touches no other test, and a real `tradetalk serve` process on it.
`pg_ctl stop -m immediate` is what `pg_ctlcluster ... stop -m immediate` does to a packaged
cluster: every PostgreSQL process exits at once, without a checkpoint, like a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import IN_CI, SECRET, SERVER_KEY
from tests.fixtures.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
# Generous bounds a user would notice, not benchmarks.
FAIL_FAST_SECONDS = 5.0  # the slowest acceptable 503 to a request sent during the outage
NO_HANG_SECONDS = 15.0  # ... to one that was in flight when PostgreSQL died
RECOVERY_SECONDS = 30.0  # from PostgreSQL accepting connections to sends succeeding again
OUTAGE_SECONDS = 3.0  # how long PostgreSQL stays down
SENDERS = 8  # concurrent clients
DEALS = 4  # conversations they write to


def _missing(reason: str) -> None:
    """Skip (or, under CI, fail) like require_service when PostgreSQL's programs are missing."""
    if IN_CI:
        pytest.fail(f"{reason}; CI runs every tier")
    pytest.skip(reason)


def _pg_bindir() -> Path | None:
    """The newest installed PostgreSQL server programs (Debian layout, then PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster owned by the `postgres` OS user (initdb refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="tradetalk-outage-pg-"))
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.data = self.dir / "data"
        self.log = self.dir / "postgresql.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/tradetalk"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise AssertionError(f"{program} {args} failed:\n{result.stderr}\n{log[-3000:]}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "tradetalk"
        )

    def start(self) -> None:
        # fsync off: this simulates PostgreSQL crashing, not the machine; the OS keeps the files.
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop_immediately(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.stop_immediately()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    bindir = _pg_bindir()
    if bindir is None:
        _missing("PostgreSQL server programs (initdb, pg_ctl) are not installed")
    assert bindir is not None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _missing("running as root, but there is no `postgres` user to run PostgreSQL")
    cluster = PrivatePostgres(bindir)
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.remove()


@dataclass
class Server:
    """`tradetalk serve` in its own process group."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def server(postgres: PrivatePostgres, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRADETALK_")}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "TRADETALK_DATABASE_URL": postgres.url,
        "TRADETALK_SECRET_KEY": SECRET,
        "TRADETALK_SERVER_API_KEY": SERVER_KEY,
        "TRADETALK_RATE_LIMITS": "false",
        "TRADETALK_LOG_JSON": "false",
        "TRADETALK_MAIL_DIR": str(tmp_path / "mail"),
        "TRADETALK_MEDIA_DIR": str(tmp_path / "media"),
        # The embedded outbox worker gets work at once, and reclaims soon what the outage broke.
        "TRADETALK_NOTIFY_DELAY_SECONDS": "1",
        "TRADETALK_WORKER_LEASE_SECONDS": "5",
        "TRADETALK_WORKER_POLL_SECONDS": "0.5",
        # Streams look at the database every half second, so the outage reaches them.
        "TRADETALK_REALTIME_HEARTBEAT_SECONDS": "0.5",
        "TRADETALK_REALTIME_AUTH_RECHECK_SECONDS": "0.5",
        "TRADETALK_EVENT_REPLAY_LIMIT": "100000",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tradetalk.cli", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole below
        )
    try:
        yield Server(process, f"http://127.0.0.1:{port}", log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest_asyncio.fixture
async def service(server: Server) -> AsyncIterator[Server]:
    async with httpx.AsyncClient(base_url=server.base) as client, asyncio.timeout(60):
        while True:
            assert server.process.poll() is None, server.output()
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
    yield server


@dataclass
class Deal:
    transaction_id: str
    buyer: str
    seller: str
    buyer_token: str
    seller_token: str
    conversation_id: int = 0


@dataclass
class Outcome:
    """One send as the client saw it."""

    client_message_id: str
    started: float
    seconds: float
    status: int | None  # None: no HTTP answer at all
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    error: str = ""


async def _open_deals(client: httpx.AsyncClient) -> list[Deal]:
    server = {"Authorization": f"Bearer {SERVER_KEY}"}
    deals = []
    for n in range(DEALS):
        tokens = {}
        for user in (f"buyer-{n}", f"seller-{n}"):
            response = await client.put(
                f"/v1/users/{user}",
                json={"display_name": user.title(), "email": f"{user}@example.com"},
                headers=server,
            )
            assert response.status_code in (200, 201), response.text
            response = await client.post(f"/v1/users/{user}/tokens", headers=server)
            assert response.status_code == 201, response.text
            tokens[user] = response.json()["token"]
        deal = Deal(f"order-{n}", f"buyer-{n}", f"seller-{n}", *tokens.values())
        response = await client.put(
            f"/v1/transactions/{deal.transaction_id}",
            json={
                "buyer_id": deal.buyer,
                "seller_id": deal.seller,
                "title": "Lens",
                "status": "paid",
            },
            headers=server,
        )
        assert response.status_code in (200, 201), response.text
        response = await client.get(
            f"/v1/transactions/{deal.transaction_id}/conversation",
            headers={"Authorization": f"Bearer {deal.buyer_token}"},
        )
        assert response.status_code == 200, response.text
        deal.conversation_id = response.json()["id"]
        deals.append(deal)
    return deals


def _body(client_message_id: str) -> str:
    return f"Is the lens still available? Asking again ({client_message_id})"


async def _send(client: httpx.AsyncClient, deal: Deal, client_message_id: str) -> Outcome:
    started = time.monotonic()
    try:
        response = await client.post(
            f"/v1/conversations/{deal.conversation_id}/messages",
            json={"body": _body(client_message_id), "client_message_id": client_message_id},
            headers={"Authorization": f"Bearer {deal.buyer_token}"},
        )
    except httpx.HTTPError as exc:
        return Outcome(
            client_message_id, started, time.monotonic() - started, None, error=repr(exc)
        )
    body = response.json() if response.content else {}
    return Outcome(
        client_message_id,
        started,
        time.monotonic() - started,
        response.status_code,
        dict(response.headers),
        body,
    )


def _acknowledged(outcome: Outcome) -> bool:
    return outcome.status in (200, 201)


async def _sender(
    client: httpx.AsyncClient, number: int, deal: Deal, stop: asyncio.Event, outcomes: list[Outcome]
) -> None:
    """Send new messages one after another; a 503 is left for the retry round, after a pause
    (a real client would wait Retry-After; the test keeps asking, to see the outage)."""
    sent = 0
    while not stop.is_set():
        outcome = await _send(client, deal, f"s{number}-{sent}")
        outcomes.append(outcome)
        sent += 1
        if not _acknowledged(outcome):
            await asyncio.sleep(0.5)


async def _watch_stream(base: str, token: str, seen: set[int], closed: list[int | None]) -> int:
    """Collect message ids from the event stream until the server closes it; returns the last
    event id received (for the reconnection)."""
    last = 0
    url = base.replace("http://", "ws://") + f"/v1/events?token={token}"
    try:
        async with connect(url, open_timeout=10) as events:
            async for raw in events:
                frame = json.loads(raw)
                if frame.get("id") is not None:
                    last = frame["id"]
                if frame["type"] == "message.created":
                    seen.add(frame["data"]["id"])
    except ConnectionClosed as exc:
        closed.append(exc.rcvd.code if exc.rcvd else None)
    else:
        closed.append(None)
    return last


async def _replay(base: str, token: str, after: int, seen: set[int]) -> None:
    url = base.replace("http://", "ws://") + f"/v1/events?token={token}&after={after}"
    async with connect(url, open_timeout=10) as events, asyncio.timeout(30):
        async for raw in events:
            frame = json.loads(raw)
            assert frame["type"] != "resync", frame
            if frame["type"] == "message.created":
                seen.add(frame["data"]["id"])
            if frame["type"] == "ready":
                return


def _async(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return predicate()

    return check


async def _until(what: str, seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """Poll `check` until it is true; returns how long that took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < seconds, f"{what} not within {seconds} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@dataclass
class Outage:
    """The load as the clients saw it, and when PostgreSQL went and came back."""

    outcomes: list[Outcome]
    readiness: list[httpx.Response]
    down_at: float  # pg_ctl stop returned: PostgreSQL is gone
    restart_at: float  # pg_ctl start called
    up_at: float  # pg_ctl start returned: PostgreSQL accepts connections
    recovery: float  # seconds from up_at to the first send that succeeded again


async def _outage_under_load(
    client: httpx.AsyncClient, postgres: PrivatePostgres, deals: list[Deal]
) -> Outage:
    outcomes: list[Outcome] = []
    stop_load = asyncio.Event()
    senders = [
        asyncio.create_task(_sender(client, n, deals[n % DEALS], stop_load, outcomes))
        for n in range(SENDERS)
    ]
    try:
        # 1. Up: sends succeed.
        await _until("sends before the outage", 30, _async(lambda: len(outcomes) >= 40))
        # 2. PostgreSQL dies; the load goes on, and the instance is asked whether it is ready.
        await asyncio.to_thread(postgres.stop_immediately)
        down_at = time.monotonic()
        readiness: list[httpx.Response] = []
        while time.monotonic() - down_at < OUTAGE_SECONDS:
            asked = time.monotonic()
            readiness.append(await client.get("/readyz"))
            assert time.monotonic() - asked < FAIL_FAST_SECONDS
            await asyncio.sleep(0.25)
        # 3. PostgreSQL comes back (crash recovery first); nobody touches the service.
        restart_at = time.monotonic()
        await asyncio.to_thread(postgres.start)
        up_at = time.monotonic()
        recovery = await _until(
            "sends to succeed again",
            RECOVERY_SECONDS,
            _async(lambda: any(o.started >= up_at and _acknowledged(o) for o in outcomes)),
        )
        await asyncio.sleep(1.0)  # and keep succeeding
    finally:
        stop_load.set()
        await asyncio.gather(*senders)
    return Outage(outcomes, readiness, down_at, restart_at, up_at, recovery)


async def _retry(
    client: httpx.AsyncClient, deals: list[Deal], client_message_ids: list[str]
) -> list[Outcome]:
    slots = asyncio.Semaphore(SENDERS)

    async def again(client_message_id: str) -> Outcome:
        sender = int(client_message_id[1:].split("-")[0])
        async with slots:
            return await _send(client, deals[sender % DEALS], client_message_id)

    return await asyncio.gather(*map(again, client_message_ids))


async def _assert_nothing_half_written(
    url: str, deals: list[Deal], stored_as: dict[str, int]
) -> None:
    """Every message stored once per client id, with everything a send writes alongside it:
    its place in the thread, its record entry, its events, its notification."""
    db = await asyncpg.connect(url)
    try:
        messages = await db.fetch(
            "SELECT id, conversation_id, seq, client_message_id FROM messages"
        )
        assert sorted(m["client_message_id"] for m in messages) == sorted(stored_as)
        assert {m["client_message_id"]: m["id"] for m in messages} == stored_as
        stored = Counter(m["id"] for m in messages)
        for deal in deals:
            seqs = sorted(
                m["seq"] for m in messages if m["conversation_id"] == deal.conversation_id
            )
            assert seqs == list(range(1, len(seqs) + 1)), "a gap or a double in the thread"
            last_seq = await db.fetchval(
                "SELECT last_seq FROM conversations WHERE id = $1", deal.conversation_id
            )
            read = await db.fetchval(
                "SELECT last_read_seq FROM participants"
                " WHERE conversation_id = $1 AND user_id = $2",
                deal.conversation_id,
                deal.buyer,
            )
            assert last_seq == read == len(seqs)
        # The record: one entry per message (verify-record checks the hash chains).
        posted = await db.fetch("SELECT payload FROM record_entries WHERE kind = 'message.posted'")
        assert Counter(json.loads(row["payload"])["message_id"] for row in posted) == stored
        # The event log: each message told to both participants; each user's ids without gaps.
        told = await db.fetch("SELECT data FROM events WHERE type = 'message.created'")
        assert Counter(json.loads(row["data"])["id"] for row in told) == stored + stored
        for user_id, count, top in await db.fetch(
            "SELECT user_id, count(*), max(id) FROM events GROUP BY user_id"
        ):
            assert count == top, f"a gap in the event log of {user_id}"
        # The outbox: each message's notification of the seller queued once.
        notified = await db.fetch("SELECT payload FROM outbox WHERE kind = 'notify_unread'")
        assert Counter(json.loads(row["payload"])["message_id"] for row in notified) == stored

        # The embedded outbox worker came through the outage: nothing due is left waiting.
        async def drained() -> bool:
            waiting = await db.fetchval(
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND run_after <= now()"
                " AND (locked_until IS NULL OR locked_until < now())"
            )
            return bool(waiting == 0)

        await _until("the outbox worker to drain", 30, drained)
    finally:
        await db.close()
    # The operator's check of the record: every hash chain intact, every thread as recorded.
    verify = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tradetalk.cli", "verify-record"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")},
            "TRADETALK_DATABASE_URL": url,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stderr


async def test_postgresql_stopped_and_started_under_load(
    postgres: PrivatePostgres, service: Server
) -> None:
    limits = httpx.Limits(max_connections=SENDERS + 4)
    async with httpx.AsyncClient(base_url=service.base, timeout=30, limits=limits) as client:
        deals = await _open_deals(client)
        watched = deals[0]
        stream_seen: set[int] = set()
        stream_closed: list[int | None] = []
        stream = asyncio.create_task(
            _watch_stream(service.base, watched.seller_token, stream_seen, stream_closed)
        )
        try:
            run = await _outage_under_load(client, postgres, deals)
            last_event = await asyncio.wait_for(stream, timeout=30)
        finally:
            stream.cancel()

        # Every send was stored (201) or refused with a 503 to retry: no 500, no dropped
        # connection, whatever moment PostgreSQL died at.
        outcomes = run.outcomes
        statuses = Counter(o.status for o in outcomes)
        failed = [o for o in outcomes if not _acknowledged(o)]
        assert set(statuses) <= {201, 503}, (statuses, [o.error or o.body for o in failed][:5])
        for outcome in failed:
            assert outcome.headers["content-type"] == "application/problem+json"
            assert outcome.body["code"] == "database_unavailable", outcome.body
            assert outcome.headers["retry-after"].isdigit(), outcome.headers
        # Sent while PostgreSQL was down: refused, and fast. (One sent then but answered after
        # the restart may have reached the database after it, on a busy machine.)
        sent_down = [o for o in outcomes if run.down_at <= o.started < run.restart_at]
        answered_down = [o for o in sent_down if o.started + o.seconds < run.restart_at]
        assert answered_down
        assert all(o.status == 503 for o in answered_down)
        slowest = max(o.seconds for o in failed if o.started >= run.down_at)
        assert slowest < FAIL_FAST_SECONDS
        # In flight when it died (waiting for their conversation's lock, say): refused, no hang.
        in_flight = [o.seconds for o in failed if o.started < run.down_at]
        assert max(in_flight, default=0) < NO_HANG_SECONDS
        # Once sends succeed again, they keep succeeding.
        recovered_at = run.up_at + run.recovery
        assert all(_acknowledged(o) for o in outcomes if o.started >= recovered_at)
        # The instance said it was not ready while the database was away, and is ready again.
        assert run.readiness
        assert all(r.status_code == 503 for r in run.readiness)
        assert all(r.json()["code"] == "database_unavailable" for r in run.readiness)
        assert (await client.get("/readyz")).status_code == 200

        # Clients retry what was not acknowledged, and a few that were: all answered, those
        # acknowledged before with the message they had.
        acknowledged = {o.client_message_id: o.body["id"] for o in outcomes if _acknowledged(o)}
        unacknowledged = sorted({o.client_message_id for o in failed} - set(acknowledged))
        retried = await _retry(client, deals, unacknowledged + sorted(acknowledged)[:20])
        assert all(_acknowledged(o) for o in retried), [o.body for o in retried if o.status != 201]
        stored_as = acknowledged | {o.client_message_id: o.body["id"] for o in retried}
        assert len(stored_as) == len({o.client_message_id for o in outcomes})
        assert {cid: stored_as[cid] for cid in acknowledged} == acknowledged

        # The seller's event stream was closed cleanly ("try again later") while the database
        # was away; reconnecting replays everything it missed.
        assert stream_closed == [1013], stream_closed
        await _replay(service.base, watched.seller_token, last_event, stream_seen)
        watched_messages = {
            message_id
            for cid, message_id in stored_as.items()
            if deals[int(cid[1:].split("-")[0]) % DEALS] is watched
        }
        assert stream_seen == watched_messages

    await _assert_nothing_half_written(postgres.url, deals, stored_as)
    assert service.process.poll() is None, "the service died"
    log = service.output()
    assert "Exception in ASGI application" not in log
    assert "unhandled error" not in log

    print(
        f"\nOUTAGE: {len(outcomes)} sends from {SENDERS} clients, {len(sent_down)} of them sent "
        f"while PostgreSQL was down ({OUTAGE_SECONDS:.0f} s); statuses {dict(statuses)}; "
        f"slowest 503 {slowest * 1000:.0f} ms (in flight at the stop: {len(in_flight)}, slowest "
        f"{max(in_flight, default=0) * 1000:.0f} ms); /readyz 503 x{len(run.readiness)}; sends "
        f"succeeded again {run.recovery:.2f} s after PostgreSQL accepted connections; "
        f"{len(unacknowledged)} unacknowledged sends retried; {len(stored_as)} messages stored, "
        f"each once and whole; the event stream closed 1013 and replayed."
    )
