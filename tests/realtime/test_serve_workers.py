"""`tradetalk serve --workers N`: several processes behind one port, as an operator runs it.

Which process holds a connection is read from /proc (the server side of the connection is a
socket in that process's file table), so the test knows that a message went in through one
process and out through another, not only that it arrived."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import SERVER_KEY, require_service
from tests.fixtures.processes import free_port, stop_gracefully, until_answering
from tests.realtime.conftest import WAIT, EventSocket, events_url
from tests.realtime.test_two_nodes import ROOT, _token, server_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _tcp_entries() -> list[tuple[int, int, int, str]]:
    """(local port, remote port, socket inode, state) of every IPv4 TCP socket."""
    entries = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        entries.append(
            (int(local.split(":")[1], 16), int(remote.split(":")[1], 16), int(inode), state)
        )
    return entries


def _listeners(port: int) -> int:
    return sum(1 for local, _, _, state in _tcp_entries() if local == port and state == "0A")


def _owner(pids: list[int], server_port: int, client_port: int) -> int:
    """The process holding the server side of the connection from `client_port`."""
    inodes = {
        inode
        for local, remote, inode, _ in _tcp_entries()
        if local == server_port and remote == client_port
    }
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                return pid
    raise AssertionError(f"no process holds the connection from port {client_port}")


class Served:
    """`tradetalk serve --workers 2` in a subprocess."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tradetalk.cli", "serve", "--port", str(self.port),
                 "--workers", "2"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
            )  # fmt: skip

    def workers(self) -> list[int]:
        return _children(self.process.pid)

    async def wait_serving(self, processes: int = 2) -> None:
        """Until `processes` processes listen on the port and the server answers."""
        await until_answering(
            self.http,
            "/readyz",
            alive=lambda: self.process.poll() is None,
            output=self.log.read_text,
            also=lambda: _listeners(self.port) == processes and len(self.workers()) == processes,
        )

    def stop(self) -> int:
        return stop_gracefully(self.process, seconds=20)


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    require_service("Redis", "127.0.0.1", 6379)
    return server_env(database_url)


@pytest.fixture
def served(env: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    server = Served(env, tmp_path / "serve.log")
    try:
        yield server
    finally:
        server.stop()


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradetalk.cli", "serve", "--port", str(free_port()), *args],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_several_processes_are_refused_on_sqlite(env: dict[str, str]) -> None:
    result = _serve(env, "--workers", "2")
    assert result.returncode == 2
    assert "--workers 2 needs PostgreSQL" in result.stderr


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_several_processes_are_refused_without_redis(env: dict[str, str]) -> None:
    result = _serve({k: v for k, v in env.items() if k != "TRADETALK_REDIS_URL"}, "--workers", "2")
    assert result.returncode == 2
    assert "--workers 2 needs TRADETALK_REDIS_URL" in result.stderr


async def _socket_on_each(served: Served, token: str) -> dict[int, ClientConnection]:
    """One event socket held by each server process (new connections until both have one)."""
    held: dict[int, ClientConnection] = {}
    spare: list[ClientConnection] = []
    try:
        for _ in range(40):
            connection = await connect(events_url(served.ws, token=token), open_timeout=WAIT)
            pid = _owner(served.workers(), served.port, connection.local_address[1])
            if pid in held:
                spare.append(connection)
            else:
                held[pid] = connection
            if len(held) == 2:
                return held
    finally:
        for connection in spare:
            await connection.close()
    raise AssertionError("40 connections all went to one process")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_processes_behind_one_port_serve_each_others_sockets(served: Served) -> None:
    await served.wait_serving()
    key = {"Authorization": f"Bearer {SERVER_KEY}"}
    async with httpx.AsyncClient(base_url=served.http, headers=key) as server:
        buyer_token = await _token(server, "buyer")
        seller_token = await _token(server, "seller")
        response = await server.put(
            "/v1/transactions/t1",
            json={"buyer_id": "buyer", "seller_id": "seller", "title": "Lens", "status": "paid"},
        )
        assert response.status_code in (200, 201), response.text
        cid = (
            await server.get(
                "/v1/transactions/t1/conversation",
                headers={"Authorization": f"Bearer {buyer_token}"},
            )
        ).json()["id"]

    sockets = await _socket_on_each(served, seller_token)
    try:
        streams = {pid: EventSocket(connection) for pid, connection in sockets.items()}
        for stream in streams.values():
            assert (await stream.frame())["type"] == "ready"
        # Send through new connections until each process has taken one message in.
        sent_through: dict[int, dict[str, object]] = {}
        for n in range(40):
            async with httpx.AsyncClient(
                base_url=served.http, headers={"Authorization": f"Bearer {buyer_token}"}
            ) as buyer:
                response = await buyer.post(
                    f"/v1/conversations/{cid}/messages", json={"body": f"Still available? #{n}"}
                )
                assert response.status_code == 201, response.text
                client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
                pid = _owner(served.workers(), served.port, client_port)
            # Every message reaches both sockets, the other process's as well as its own.
            for stream in streams.values():
                frame = await stream.event()
                assert (frame["type"], frame["data"]) == ("message.created", response.json())
            sent_through.setdefault(pid, response.json())
            if len(sent_through) == 2:
                break
        assert set(sent_through) == set(streams), "every message went in through one process"
    finally:
        for connection in sockets.values():
            await connection.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_process_that_dies_is_replaced_and_sigterm_stops_them_all(
    served: Served,
) -> None:
    await served.wait_serving()
    first, second = served.workers()
    os.kill(first, signal.SIGKILL)
    await served.wait_serving()
    assert second in served.workers() and first not in served.workers()
    async with httpx.AsyncClient(base_url=served.http) as client:
        for _ in range(10):  # new connections, spread over both processes
            assert (await client.get("/readyz", headers={"Connection": "close"})).status_code == 200
    workers = served.workers()
    assert served.stop() == 0
    assert _gone(workers, within=10)
    assert _listeners(served.port) == 0


def _gone(pids: list[int], *, within: float) -> bool:
    deadline = time.monotonic() + within
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
