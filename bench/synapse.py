"""The peer: Matrix Synapse and tradetalk driven by the same load, side by side.

For each database (SQLite, PostgreSQL), in one run and one server at a time on the machine:

- Synapse (PyPI `matrix-synapse`, installed into `bench/.venv-synapse` on first use) with a
  generated config: loopback listener on a free port, no TLS, no federation, presence off,
  every rate limit lifted, registration only through the shared secret, its log at WARNING
  (tradetalk's benchmarks run it at WARNING too), bcrypt at 4 rounds (only registration hashes
  passwords; no measured request does). Rooms shaped like tradetalk's conversations: a buyer
  creates a private room, invites the seller, the seller joins; a seller per ten buyers.
- tradetalk, through bench/send.py's seeding and load (the same conversations, users and body).

Measured, for each server:

- send: `concurrency` clients sending back to back for `duration` seconds (wrk with a Lua
  script, as bench/send.py does by default; `--load httpx` for harness.closed_loop in this
  process) to random rooms/conversations as one of their two members; Synapse:
  `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}`, tradetalk:
  `POST /v1/conversations/{id}/messages`. Messages/s, latency percentiles, and the server
  process's CPU time per message (from /proc/<pid>/stat);
- delivery: `receivers` users each listening (Synapse: a `/sync?timeout=30000&since=` long-poll
  loop; tradetalk: its WebSocket, through bench/realtime.py's `Bench`) while their partners send
  at a fixed rate; send-to-receive time from the start of the send request until the receiver
  holds the event, matched by a nonce in the body. A rate above what the server reached in the
  send measurement is skipped (it would only measure a queue).

ratios: throughput = tradetalk / Synapse, cpu_per_message and delivery_p99 = Synapse / tradetalk
(bigger is better for tradetalk everywhere; the design asks for 30, 30 and 10).
Progress on stderr, one JSON document on stdout.

    python bench/synapse.py [--quick] [--databases sqlite,postgresql] [--concurrency 16,64]
                            [--duration 10] [--rooms 200] [--rates 20,100] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import yaml  # type: ignore[import-untyped]  # PyYAML comes with uvicorn[standard]
from websockets.asyncio.client import ClientConnection

from harness import (
    Server,
    closed_loop,
    emit,
    ensure_debian_package,
    free_port,
    fresh_database,
    gather_limited,
    machine,
    parse_databases,
    percentiles,
    process_cpu_seconds,
    progress,
    run,
    stop_process,
    wait_until_ready,
    workdir,
)
from realtime import Bench
from send import BODY, SELLER_SHARE, Party, drive_sends, seed
from wrk_load import closed_loop_wrk, find_wrk, write_matrix_script

BENCH_DIR = Path(__file__).resolve().parent
SYNAPSE_VENV = BENCH_DIR / ".venv-synapse"
SERVER_NAME = "bench.local"
TARGETS = {"throughput": 30.0, "cpu_per_message": 30.0, "delivery_p99": 10.0}
SERVERS = ("synapse", "tradetalk")
DRAIN_SECONDS = 10.0  # a delivery later than this after the last send counts as lost
# What a Matrix client asks /sync for: the timeline, members loaded lazily, no presence or
# account data (neither exists here; the filter only spares both servers the work).
SYNC_FILTER = json.dumps(
    {
        "room": {
            "timeline": {"limit": 100},
            "state": {"lazy_load_members": True},
            "account_data": {"not_types": ["*"]},
        },
        "presence": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
    separators=(",", ":"),
)
LIFTED = {"per_second": 100_000, "burst_count": 1_000_000}
# Every rate limiter Synapse's config reads (synapse/config/ratelimiting.py), lifted.
RATE_LIMITS_OFF: dict[str, Any] = {
    "rc_message": LIFTED,
    "rc_registration": LIFTED,
    "rc_registration_token_validity": LIFTED,
    "rc_login": {"address": LIFTED, "account": LIFTED, "failed_attempts": LIFTED},
    "rc_admin_redaction": LIFTED,
    "rc_joins": {"local": LIFTED, "remote": LIFTED},
    "rc_joins_per_room": LIFTED,
    "rc_key_requests": LIFTED,
    "rc_3pid_validation": LIFTED,
    "rc_invites": {"per_room": LIFTED, "per_user": LIFTED, "per_issuer": LIFTED},
    "rc_third_party_invite": LIFTED,
    "rc_media_create": LIFTED,
    "rc_presence": {"per_user": LIFTED},
    "rc_delayed_event_mgmt": LIFTED,
    "rc_room_creation": LIFTED,
    "rc_reports": LIFTED,
    "rc_user_directory": LIFTED,
    "rc_profile": LIFTED,
    "rc_federation": {"sleep_limit": 100_000, "reject_limit": 100_000, "concurrent": 100_000},
}


# --- Synapse: installation, configuration, process -------------------------------------------


def ensure_synapse(venv: Path) -> tuple[Path, str]:
    """Synapse's interpreter in its own virtualenv (made and filled on first use), and version.

    `matrix-synapse[postgres]` builds psycopg2 from source where no wheel fits, which needs
    libpq's headers; without them the binary wheel of the same driver is installed instead."""
    python = venv / "bin" / "python"
    probe = [
        str(python),
        "-c",
        "import importlib.metadata, synapse, psycopg2; "
        "print(importlib.metadata.version('matrix-synapse'))",
    ]

    def version() -> str | None:
        # cwd away from bench/, where this very file would shadow the `synapse` package.
        result = subprocess.run(probe, capture_output=True, text=True, cwd=venv)
        return result.stdout.strip() if result.returncode == 0 else None

    if not python.exists():
        progress(f"creating the Synapse virtualenv {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    found = version()
    if found is None:
        progress("installing matrix-synapse[postgres] into it (a few minutes, once)")
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run([*pip, "matrix-synapse[postgres]"], cwd=venv, stdout=sys.stderr)
        if done.returncode != 0:
            progress("psycopg2 did not build (no libpq headers?); using psycopg2-binary")
            subprocess.run(
                [*pip, "matrix-synapse", "psycopg2-binary"], cwd=venv, stdout=sys.stderr, check=True
            )
        found = version()
        if found is None:
            raise SystemExit(f"Synapse is not importable from {python} after installing it")
    return python, found


def synapse_database(kind: str, url: str) -> dict[str, Any]:
    """Synapse's `database` section for a plain SQLite or PostgreSQL URL (harness-made)."""
    if kind == "sqlite":
        return {"name": "sqlite3", "args": {"database": url.removeprefix("sqlite:///")}}
    parts = urlsplit(url)
    args: dict[str, Any] = {
        "user": parts.username or "postgres",
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "database": parts.path.lstrip("/"),
        # Synapse's defaults, said out loud.
        "cp_min": 5,
        "cp_max": 10,
    }
    if parts.password:
        args["password"] = parts.password
    return {"name": "psycopg2", "args": args}


@dataclass(frozen=True, slots=True)
class Room:
    room_id: str
    buyer: Party
    seller: Party


class Synapse:
    """Synapse's homeserver in its own process, configured for a load test, on a free port."""

    def __init__(self, python: Path, kind: str, database_url: str, folder: Path) -> None:
        self.python = python
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.home = folder / f"synapse-{kind}-{self.port}"
        self.config_path = self.home / "homeserver.yaml"
        self.kind = kind
        self.database_url = database_url
        self.shared_secret = ""
        self.process: asyncio.subprocess.Process | None = None
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    async def configure(self) -> dict[str, Any]:
        """Generate the config as an operator would, then edit it for the benchmark."""
        self.home.mkdir(parents=True)
        data = self.home / "data"
        generate = await asyncio.create_subprocess_exec(
            str(self.python), "-m", "synapse.app.homeserver", "--server-name", SERVER_NAME,
            "--config-path", str(self.config_path), "--data-directory", str(data),
            "--generate-config", "--report-stats=no",
            cwd=self.home, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await generate.communicate()
        if generate.returncode != 0:
            raise RuntimeError(f"synapse --generate-config failed:\n{output.decode()}")
        return self.edit_config(data)

    def edit_config(self, data: Path) -> dict[str, Any]:
        """The generated YAML, made fit for a load test on loopback (and its log quieter)."""
        config: dict[str, Any] = yaml.safe_load(self.config_path.read_text())
        self.shared_secret = config["registration_shared_secret"]
        config |= {
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": synapse_database(self.kind, self.database_url),
            "media_store_path": str(data / "media_store"),
            "enable_registration": False,
            "presence": {"enabled": False},
            "federation_domain_whitelist": [],  # federate with nobody
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "url_preview_enabled": False,
            "enable_metrics": False,
            "report_stats": False,
            "bcrypt_rounds": 4,
            # A fresh database still runs a few background updates; let them go flat out
            # (they finish before anything is measured).
            "background_updates": {"sleep_enabled": False},
        }
        config |= RATE_LIMITS_OFF
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        log_config_path = Path(config["log_config"])
        log_config: dict[str, Any] = yaml.safe_load(log_config_path.read_text())
        log_config["root"]["level"] = "WARNING"
        for logger in log_config.get("loggers", {}).values():
            logger["level"] = "WARNING"
        log_config_path.write_text(yaml.safe_dump(log_config, sort_keys=False))
        return config

    async def __aenter__(self) -> Synapse:
        await self.configure()
        with (self.home / "stdout.log").open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(self.python), "-m", "synapse.app.homeserver",
                "--config-path", str(self.config_path),
                cwd=self.home, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        problem = await wait_until_ready(
            self.process,
            f"{self.base_url}/_matrix/client/versions",
            within=180,
            interval=0.2,
            request_timeout=5,
        )
        if problem is None:
            return self
        await self.__aexit__()
        raise RuntimeError(f"Synapse {problem}:\n{self.errors_logged()}")

    async def __aexit__(self, *exc_info: object) -> None:
        if self.process is None:
            return
        await stop_process(self.process, grace=30)
        self.process = None

    def errors_logged(self) -> str:
        """The tail of Synapse's own log and of its stdout, for a failure report."""
        tails = []
        for name in ("homeserver.log", "stdout.log"):
            path = self.home / name
            if path.exists():
                tails.append(f"--- {name}\n{path.read_text()[-3000:]}")
        return "\n".join(tails)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the Synapse process so far (its database threads too)."""
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)

    def client(self, *, connections: int, timeout: float = 60) -> httpx.AsyncClient:
        """A keep-alive HTTP/1.1 client with a pool of `connections`."""
        return httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def register(
        self, api: httpx.AsyncClient, username: str, *, admin: bool = False
    ) -> Party:
        """A user through the shared-secret admin registration API (nonce + HMAC-SHA1)."""
        nonce = (await api.get("/_synapse/admin/v1/register")).json()["nonce"]
        password = uuid.uuid4().hex
        kind = "admin" if admin else "notadmin"
        signed = b"\x00".join(part.encode() for part in (nonce, username, password, kind))
        mac = hmac.new(self.shared_secret.encode(), signed, hashlib.sha1)
        body = {
            "nonce": nonce,
            "username": username,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        response = await api.post("/_synapse/admin/v1/register", json=body)
        response.raise_for_status()
        registered = response.json()
        return Party(registered["user_id"], registered["access_token"])

    async def wait_for_background_updates(
        self, api: httpx.AsyncClient, admin: Party
    ) -> dict[str, Any]:
        """Wait until Synapse's database background updates are done, so they are not measured."""
        began = time.perf_counter()
        deadline = began + 300
        seen: set[str] = set()
        while time.perf_counter() < deadline:
            response = await api.get(
                "/_synapse/admin/v1/background_updates/status", headers=bearer(admin.token)
            )
            response.raise_for_status()
            current = response.json().get("current_updates") or {}
            if not current:
                break
            seen |= {update["name"] for update in current.values()}
            await asyncio.sleep(0.2)
        return {"seconds": round(time.perf_counter() - began, 2), "updates": sorted(seen)}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def seed_synapse(server: Synapse, rooms: int) -> list[Room]:
    """Users and two-member private rooms shaped like bench/send.py's conversations."""
    sellers = [f"seller-{i}" for i in range(max(1, rooms // SELLER_SHARE))]
    buyers = [f"buyer-{i}" for i in range(rooms)]
    async with server.client(connections=16) as api:
        parties = await gather_limited(
            [lambda u=u: server.register(api, u) for u in sellers + buyers],  # type: ignore[misc]
            16,
        )
        by_name = {p.user_id.split(":")[0].lstrip("@"): p for p in parties}

        async def open_room(index: int) -> Room:
            buyer, seller = by_name[buyers[index]], by_name[sellers[index % len(sellers)]]
            created = await api.post(
                "/_matrix/client/v3/createRoom",
                json={
                    "preset": "private_chat",
                    "is_direct": True,
                    "name": f"Item {index}",
                    "invite": [seller.user_id],
                },
                headers=bearer(buyer.token),
            )
            created.raise_for_status()
            room_id: str = created.json()["room_id"]
            joined = await api.post(
                f"/_matrix/client/v3/join/{quote(room_id, safe='')}",
                json={},
                headers=bearer(seller.token),
            )
            joined.raise_for_status()
            return Room(room_id, buyer, seller)

        return await gather_limited(
            [lambda i=i: open_room(i) for i in range(rooms)],  # type: ignore[misc]
            16,
        )


async def drive_synapse_sends(
    server: Synapse,
    rooms: list[Room],
    *,
    concurrency: int,
    duration: float,
    seed_value: int,
    load: str = "httpx",
) -> dict[str, Any]:
    """bench/send.py's load, as Matrix sends: a random room, as one of its two members, from
    this process (httpx) or from wrk (`load="wrk"`, see wrk_load.py)."""
    if load == "wrk":
        with tempfile.TemporaryDirectory() as folder:
            script = write_matrix_script(
                Path(folder),
                [(r.room_id, r.buyer.token, r.seller.token) for r in rooms],
                body_prefix=BODY.split("{")[0],
                seed=seed_value,
            )
            return await closed_loop_wrk(
                server.base_url, script, concurrency=concurrency, duration=duration, ok=200,
                server_cpu=server.cpu_seconds,
            )  # fmt: skip
    rng = random.Random(seed_value)
    async with server.client(connections=concurrency) as api:

        async def send(n: int) -> int:
            room = rng.choice(rooms)
            party = room.buyer if rng.random() < 0.5 else room.seller
            # The transaction id plays client_message_id's part (Synapse dedupes on it).
            response = await api.put(
                f"/_matrix/client/v3/rooms/{quote(room.room_id, safe='')}/send/m.room.message/"
                f"{uuid.uuid4().hex}",
                json={"msgtype": "m.text", "body": BODY.format(n=n)},
                headers=bearer(party.token),
            )
            return response.status_code

        return await closed_loop(
            send, concurrency=concurrency, duration=duration, ok=200, server_cpu=server.cpu_seconds
        )


class SyncDelivery(Bench):
    """bench/realtime.py's fixed-rate sender and bookkeeping, sending Matrix events and
    receiving them through `/sync` long-polls instead of a WebSocket.

    A pair is (receiver id, sender id, room id, sender token, receiver token)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(argparse.Namespace(sockets=0, no_compression=False), base_url)
        self.sync_errors = 0

    async def send(self, client: httpx.AsyncClient, pair: tuple[Any, ...], n: int) -> None:
        _, _, room_id, sender_token, _ = pair
        body = f"m{n}"
        started = time.perf_counter()
        self.sent_at[body] = started
        try:
            response = await client.put(
                f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.message/"
                f"{uuid.uuid4().hex}",
                json={"msgtype": "m.text", "body": body},
                headers=bearer(sender_token),
            )
            if response.status_code != 200:
                self.errors += 1
                self.sent_at.pop(body, None)
        except httpx.HTTPError:
            self.errors += 1
            self.sent_at.pop(body, None)
        self.http_ms.append((time.perf_counter() - started) * 1000)

    async def initial_sync(self, client: httpx.AsyncClient, token: str) -> str:
        """The first (full) sync a client makes; answers the token to long-poll from."""
        response = await client.get(
            "/_matrix/client/v3/sync",
            params={"timeout": "0", "filter": SYNC_FILTER},
            headers=bearer(token),
        )
        response.raise_for_status()
        since: str = response.json()["next_batch"]
        return since

    async def listen(self, client: httpx.AsyncClient, token: str, since: str) -> None:
        """`/sync?timeout=30000&since=` in a loop, as a Matrix client waits for news."""
        while True:
            try:
                response = await client.get(
                    "/_matrix/client/v3/sync",
                    params={"since": since, "timeout": "30000", "filter": SYNC_FILTER},
                    headers=bearer(token),
                )
            except httpx.HTTPError:
                self.sync_errors += 1
                await asyncio.sleep(0.1)
                continue
            now = time.perf_counter()
            if response.status_code != 200:
                self.sync_errors += 1
                await asyncio.sleep(0.1)
                continue
            answer = response.json()
            since = answer["next_batch"]
            for room in answer.get("rooms", {}).get("join", {}).values():
                for event in room.get("timeline", {}).get("events", []):
                    body = event.get("content", {}).get("body")
                    if event.get("type") == "m.room.message" and body in self.sent_at:
                        self.latencies.append((now - self.sent_at.pop(body)) * 1000)


async def measure_delivery(
    bench: Bench,
    api: httpx.AsyncClient,
    pairs: list[tuple[Any, ...]],
    *,
    rate: float,
    seconds: float,
    server_cpu: Callable[[], float],
) -> dict[str, Any]:
    """realtime.py's fixed-rate drive; send-to-receive times, whichever way they arrive."""
    bench.sent_at.clear()
    bench.latencies.clear()
    bench.http_ms.clear()
    bench.errors = 0
    count = max(1, round(rate * seconds))
    cpu_before = server_cpu()
    elapsed = await bench.drive(api, pairs, count, rate)
    deadline = time.perf_counter() + DRAIN_SECONDS
    while bench.sent_at and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    cpu = server_cpu() - cpu_before
    return {
        "rate_asked": rate,
        "rate_achieved": round(count / elapsed, 1),
        "messages": count,
        "delivered": len(bench.latencies),
        "lost_or_later_than_10s": len(bench.sent_at),
        "send_errors": bench.errors,
        "send_to_receive": percentiles([ms / 1000 for ms in bench.latencies]),
        "send_request": percentiles([ms / 1000 for ms in bench.http_ms]),
        "server_cpu_ms_per_message": round(cpu / count * 1000, 3),
    }


def sustained(sends: dict[str, Any]) -> float:
    """The best closed-loop send rate the server reached: the most a fixed rate can ask."""
    return max((level["per_second"] for level in sends.values()), default=0.0)


async def settle(cpu_seconds: Callable[[], float], *, limit: float = 60.0) -> float:
    """Wait until the server is quiet (under 5% of a core for a second), at most `limit` s.

    Seeding leaves work behind (Synapse's user directory and room stats, tradetalk's outbox);
    it should not be billed to the sends measured next. Answers the seconds waited."""
    began = time.perf_counter()
    progress("waiting for the server to go quiet after seeding")
    while time.perf_counter() - began < limit:
        before = cpu_seconds()
        await asyncio.sleep(1.0)
        if cpu_seconds() - before < 0.05:
            break
    return round(time.perf_counter() - began, 1)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def idle_cpu(cpu_seconds: Callable[[], float], seconds: float = 2.0) -> float:
    """CPU the server burns doing nothing, in ms per second (background tasks)."""
    before = cpu_seconds()
    await asyncio.sleep(seconds)
    return round((cpu_seconds() - before) / seconds * 1000, 2)


# --- the two servers, each through the same steps --------------------------------------------


async def send_levels(
    label: str,
    drive: Callable[[int, float, int], Awaitable[dict[str, Any]]],
    options: argparse.Namespace,
) -> dict[str, Any]:
    """A warm-up, then one send figure per concurrency level, from
    `drive(concurrency, duration, seed_value)`: the same sequence for both servers."""
    if options.warmup > 0:
        await drive(min(options.concurrency), options.warmup, 0)
    levels: dict[str, Any] = {}
    for concurrency in options.concurrency:
        progress(f"{label} sends at concurrency {concurrency}")
        levels[str(concurrency)] = await drive(concurrency, options.duration, concurrency)
    return levels


async def bench_synapse(
    kind: str, python: Path, options: argparse.Namespace, folder: Path
) -> dict[str, Any]:
    """Synapse on a fresh database of this kind: setup, sends, delivery."""
    async with (
        fresh_database(kind, folder, prefix="synapse_bench", c_collation=True) as url,
        Synapse(python, kind, url, folder) as server,
    ):
        progress(f"{kind}: Synapse up on {server.base_url}; waiting for background updates")
        async with server.client(connections=4) as api:
            admin = await server.register(api, "bench-admin", admin=True)
            background = await server.wait_for_background_updates(api, admin)
        progress(f"{kind}: Synapse: registering users, creating {options.rooms} rooms")
        began = time.perf_counter()
        rooms = await seed_synapse(server, options.rooms)
        seeded = time.perf_counter() - began
        result: dict[str, Any] = {
            "setup": {
                "settle_seconds": await settle(server.cpu_seconds),
                "rooms": len(rooms),
                "users": len({r.buyer.user_id for r in rooms} | {r.seller.user_id for r in rooms}),
                "seed_seconds": round(seeded, 2),
                "background_updates_waited_for": background,
            },
            "idle_server_cpu_ms_per_second": await idle_cpu(server.cpu_seconds),
            # Other work on the machine shows up in wall-clock figures; CPU times less so.
            "load_average": {"before_sends": load_average()},
            "send": await send_levels(
                f"{kind}: Synapse",
                lambda c, d, s: drive_synapse_sends(
                    server, rooms, concurrency=c, duration=d, seed_value=s, load=options.load
                ),
                options,
            ),
            "delivery": {},
        }
        receiving = rooms[: options.receivers]
        # The buyer listens (each buyer is in exactly one room); the room's seller sends.
        pairs = [
            (r.buyer.user_id, r.seller.user_id, r.room_id, r.seller.token, r.buyer.token)
            for r in receiving
        ]
        bench = SyncDelivery(server.base_url)
        async with (
            server.client(connections=len(pairs) + 4, timeout=90) as syncs,
            server.client(connections=64) as api,
        ):
            progress(f"{kind}: Synapse: initial /sync of {len(pairs)} receivers")
            since = await gather_limited(
                [lambda p=p: bench.initial_sync(syncs, p[4]) for p in pairs],  # type: ignore[misc]
                8,
            )
            listeners = [
                asyncio.create_task(bench.listen(syncs, pair[4], token))
                for pair, token in zip(pairs, since, strict=True)
            ]
            await asyncio.sleep(1)  # every long-poll parked at the server
            try:
                for rate in options.rates:
                    result["delivery"][f"{rate:g}"] = await delivery_or_skip(
                        kind, "Synapse", bench, api, pairs, rate, result["send"], options,
                        server.cpu_seconds,
                    )  # fmt: skip
            finally:
                for listener in listeners:
                    listener.cancel()
                await asyncio.gather(*listeners, return_exceptions=True)
            result["delivery_sync_errors"] = bench.sync_errors
        result["load_average"]["after_delivery"] = load_average()
        return result


async def bench_tradetalk(kind: str, options: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """tradetalk on a fresh database of this kind, through the same steps."""
    async with fresh_database(kind, folder) as url, Server(url, folder) as server:
        progress(
            f"{kind}: tradetalk up on {server.base_url}; seeding {options.rooms} conversations"
        )
        began = time.perf_counter()
        threads = await seed(server, options.rooms)
        seeded = time.perf_counter() - began
        result: dict[str, Any] = {
            "setup": {
                "settle_seconds": await settle(server.cpu_seconds),
                "conversations": len(threads),
                "users": len(
                    {t.buyer.user_id for t in threads} | {t.seller.user_id for t in threads}
                ),
                "seed_seconds": round(seeded, 2),
            },
            "idle_server_cpu_ms_per_second": await idle_cpu(server.cpu_seconds),
            # Other work on the machine shows up in wall-clock figures; CPU times less so.
            "load_average": {"before_sends": load_average()},
            "send": await send_levels(
                f"{kind}: tradetalk",
                lambda c, d, s: drive_sends(
                    server,
                    threads,
                    concurrency=c,
                    duration=d,
                    client_ids=True,
                    seed_value=s,
                    load=options.load,
                ),
                options,
            ),
            "delivery": {},
        }
        # realtime.py's pairs: the buyer b<n> sends, the seller s<n> listens on its socket.
        shape = argparse.Namespace(sockets=2 * options.receivers, no_compression=False)
        bench = Bench(shape, server.base_url)
        sockets: list[ClientConnection] = []
        readers: list[asyncio.Task[None]] = []
        async with server.client(connections=64) as api:
            progress(f"{kind}: tradetalk: {options.receivers} pairs, one socket per receiver")
            pairs: list[tuple[Any, ...]] = list(await bench.setup(api))
            try:
                for pair in pairs:
                    sockets.append(await bench.open_socket(pair[4]))
                    readers.append(asyncio.create_task(bench.read(sockets[-1], pair[1])))
                await asyncio.sleep(1)
                for rate in options.rates:
                    result["delivery"][f"{rate:g}"] = await delivery_or_skip(
                        kind, "tradetalk", bench, api, pairs, rate, result["send"], options,
                        server.cpu_seconds,
                    )  # fmt: skip
            finally:
                for reader in readers:
                    reader.cancel()
                for ws in sockets:
                    with contextlib.suppress(Exception):
                        await ws.close()
                await asyncio.gather(*readers, return_exceptions=True)
            result["delivery_sockets_closed_early"] = bench.closed_early
        result["load_average"]["after_delivery"] = load_average()
        return result


async def delivery_or_skip(
    kind: str,
    name: str,
    bench: Bench,
    api: httpx.AsyncClient,
    pairs: list[tuple[Any, ...]],
    rate: float,
    sends: dict[str, Any],
    options: argparse.Namespace,
    server_cpu: Callable[[], float],
) -> dict[str, Any]:
    """One delivery measurement at `rate`, unless the server cannot send that fast at all."""
    best = sustained(sends)
    if rate > best and not options.force_rates:
        progress(f"{kind}: {name} delivery at {rate:g}/s skipped (sends peaked at {best}/s)")
        return {"skipped": f"sends peaked at {best}/s, below the rate asked"}
    progress(f"{kind}: {name} delivery at {rate:g}/s for {options.delivery_seconds:g} s")
    return await measure_delivery(
        bench, api, pairs, rate=rate, seconds=options.delivery_seconds, server_cpu=server_cpu
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def ratios(synapse: dict[str, Any], tradetalk: dict[str, Any]) -> dict[str, Any]:
    """How many times better tradetalk does, figure by figure (the design asks 30, 30, 10)."""
    found: dict[str, dict[str, float | None]] = {
        "throughput": {},
        "cpu_per_message": {},
        "delivery_p99": {},
    }
    for level, s in synapse["send"].items():
        t = tradetalk["send"].get(level)
        if t is None:
            continue
        found["throughput"][level] = ratio(t["per_second"], s["per_second"])
        found["cpu_per_message"][level] = ratio(
            s["server_cpu_ms_per_message"], t["server_cpu_ms_per_message"]
        )
    for rate, s in synapse["delivery"].items():
        t = tradetalk["delivery"].get(rate, {})
        if "skipped" in s or "skipped" in t or not t:
            found["delivery_p99"][rate] = None
            continue
        found["delivery_p99"][rate] = ratio(
            s["send_to_receive"]["p99_ms"], t["send_to_receive"]["p99_ms"]
        )
    meets = {
        name: all(v is not None and v >= TARGETS[name] for v in values.values()) and bool(values)
        for name, values in found.items()
    }
    return found | {"targets": TARGETS, "meets_target": meets}


def parse_servers(value: str) -> list[str]:
    """`synapse,tradetalk` -> the list, checked."""
    names = [part.strip() for part in value.split(",") if part.strip()]
    if not names or set(names) - set(SERVERS):
        raise argparse.ArgumentTypeError(f"a comma-separated subset of {', '.join(SERVERS)}")
    return names


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--databases", type=parse_databases, default="sqlite,postgresql")
    parser.add_argument(
        "--servers",
        type=parse_servers,
        default=list(SERVERS),
        help="synapse,tradetalk (either or both; ratios need both)",
    )
    parser.add_argument(
        "--concurrency",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[16, 64],
        help="comma-separated concurrency levels (default 16,64)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per send figure")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured sends")
    parser.add_argument("--rooms", type=int, default=200, help="rooms = conversations")
    parser.add_argument("--receivers", type=int, default=50, help="listening users (delivery)")
    parser.add_argument(
        "--rates",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[20.0, 100.0],
        help="delivery send rates, messages/s (default 20,100)",
    )
    parser.add_argument("--delivery-seconds", type=float, default=15.0)
    parser.add_argument(
        "--force-rates",
        action="store_true",
        help="drive every rate even above the server's best send rate (measures its queue)",
    )
    parser.add_argument(
        "--load",
        choices=["wrk", "httpx"],
        default="wrk",
        help="load generator of the send figures, the same for both servers: wrk with a Lua "
        "script (installed with apt-get when missing, as root), or httpx in this process (which "
        "costs more CPU per send than tradetalk's server at 64, on the same two cores)",
    )
    parser.add_argument("--synapse-venv", type=Path, default=SYNAPSE_VENV)
    parser.add_argument("--quick", action="store_true", help="a few seconds: smoke run only")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    options = parser.parse_args()
    if options.quick:
        options.duration, options.warmup, options.rooms, options.receivers = 1.0, 0.0, 6, 3
        options.concurrency, options.rates, options.delivery_seconds = [4], [5.0], 2.0
    if options.load == "wrk":
        ensure_debian_package("wrk", find_wrk, needed_by="synapse.py --load wrk")
    if options.receivers > options.rooms:
        parser.error("--receivers cannot exceed --rooms (each receiver is one room's buyer)")
    return options


async def main(options: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    python, version = ensure_synapse(options.synapse_venv)
    document: dict[str, Any] = {
        "benchmark": "synapse",
        "quick": options.quick,
        "synapse_version": version,
        "targets": "tradetalk >= 30x Synapse's send throughput, < 1/30 of its server CPU per "
        "message, delivery p99 < 1/10 of its p99",
        "machine": machine(),
        "load": {
            "generator": options.load,
            "rooms": options.rooms,
            "concurrency": options.concurrency,
            "duration_seconds": options.duration,
            "warmup_seconds": options.warmup,
            "receivers": options.receivers,
            "delivery_rates": options.rates,
            "delivery_seconds": options.delivery_seconds,
        },
    }
    with workdir() as folder:
        for kind in options.databases:
            figures: dict[str, Any] = {}
            if "synapse" in options.servers:
                figures["synapse"] = await bench_synapse(kind, python, options, folder)
            if "tradetalk" in options.servers:
                figures["tradetalk"] = await bench_tradetalk(kind, options, folder)
            if len(figures) == 2:
                figures["ratios"] = ratios(figures["synapse"], figures["tradetalk"])
            document[kind] = figures
    document["run_seconds"] = round(time.perf_counter() - began, 1)
    return document


if __name__ == "__main__":
    arguments = parse_args()
    emit(run(main(arguments)), arguments.out)
