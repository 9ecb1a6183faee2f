"""Two `tradetalk serve` processes sharing the database and Redis serve each other's sockets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect

from tests.conftest import SECRET, SERVER_KEY, require_service
from tests.fixtures.processes import free_port, stop_gracefully, until_answering
from tests.realtime.conftest import WAIT, EventSocket, events_url

REDIS_URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]


class Node:
    """One `tradetalk serve` subprocess."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.log = log_dir / f"{name}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tradetalk.cli", "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    async def wait_healthy(self) -> None:
        await until_answering(
            self.http,
            "/healthz",
            alive=lambda: self.process.poll() is None,
            output=self.log.read_text,
        )

    def stop(self) -> None:
        stop_gracefully(self.process, seconds=15)


def server_env(database_url: str) -> dict[str, str]:
    """The environment of a `tradetalk serve` process under test: this database, a Redis
    prefix of its own, nothing inherited from the caller's TRADETALK_ settings."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")},
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "TRADETALK_DATABASE_URL": database_url,
        "TRADETALK_REDIS_URL": REDIS_URL,
        "TRADETALK_REDIS_PREFIX": f"tt-test-{uuid.uuid4().hex[:8]}",
        "TRADETALK_SECRET_KEY": SECRET,
        "TRADETALK_SERVER_API_KEY": SERVER_KEY,
        "TRADETALK_RATE_LIMITS": "false",
        "TRADETALK_LOG_JSON": "false",
    }


@pytest.fixture
def nodes(database_url: str, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    require_service("Redis", "127.0.0.1", 6379)
    env = server_env(database_url)
    started = [Node("a", env, tmp_path), Node("b", env, tmp_path)]
    try:
        yield started[0], started[1]
    finally:
        for node in started:
            node.stop()


@pytest_asyncio.fixture
async def running(nodes: tuple[Node, Node]) -> AsyncIterator[tuple[Node, Node]]:
    await asyncio.gather(*(node.wait_healthy() for node in nodes))
    yield nodes


async def _token(server: httpx.AsyncClient, user_id: str) -> str:
    response = await server.put(
        f"/v1/users/{user_id}", json={"display_name": user_id, "email": f"{user_id}@example.com"}
    )
    assert response.status_code in (200, 201), response.text
    response = await server.post(f"/v1/users/{user_id}/tokens")
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def test_a_socket_on_node_a_receives_a_message_sent_through_node_b(
    running: tuple[Node, Node],
) -> None:
    node_a, node_b = running
    key = {"Authorization": f"Bearer {SERVER_KEY}"}
    async with (
        httpx.AsyncClient(base_url=node_a.http, headers=key) as server_a,
        httpx.AsyncClient(base_url=node_b.http, headers=key) as server_b,
    ):
        buyer_token = await _token(server_b, "buyer")
        seller_token = await _token(server_a, "seller")
        response = await server_b.put(
            "/v1/transactions/t1",
            json={"buyer_id": "buyer", "seller_id": "seller", "title": "Lens", "status": "paid"},
        )
        assert response.status_code in (200, 201), response.text
    buyer_on_b = httpx.AsyncClient(
        base_url=node_b.http, headers={"Authorization": f"Bearer {buyer_token}"}
    )
    seller_on_a = httpx.AsyncClient(
        base_url=node_a.http, headers={"Authorization": f"Bearer {seller_token}"}
    )
    async with (
        buyer_on_b,
        seller_on_a,
        connect(events_url(node_a.ws, token=seller_token), open_timeout=WAIT) as seller_ws,
        connect(events_url(node_b.ws, token=buyer_token), open_timeout=WAIT) as buyer_ws,
    ):
        seller, buyer = EventSocket(seller_ws), EventSocket(buyer_ws)
        assert (await seller.frame())["type"] == "ready"
        assert (await buyer.frame())["type"] == "ready"
        cid = (await buyer_on_b.get("/v1/transactions/t1/conversation")).json()["id"]

        question = await buyer_on_b.post(
            f"/v1/conversations/{cid}/messages", json={"body": "Any scratches on the glass?"}
        )
        assert question.status_code == 201
        frame = await seller.event()
        assert frame == {"id": 1, "type": "message.created", "data": question.json()}

        answer = await seller_on_a.post(
            f"/v1/conversations/{cid}/messages", json={"body": "None at all."}
        )
        assert answer.status_code == 201
        received = [await buyer.event(), await buyer.event()]
        assert [(f["id"], f["data"]["body"]) for f in received] == [
            (1, "Any scratches on the glass?"),
            (2, "None at all."),
        ]
        # Typing, sent as a frame on node A's socket, shows on node B's.
        await seller.send({"type": "typing", "conversation_id": cid})
        typing = await buyer.event()
        assert typing["type"] == "typing"
        assert json.dumps(typing["data"]) == json.dumps(
            {"conversation_id": cid, "user_id": "seller"}
        )
