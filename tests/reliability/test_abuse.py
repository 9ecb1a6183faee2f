"""Abuse: rate limits per user and per address, request and frame size limits, slow and
oversized request heads, single-use sign-in links.

The limits are made small here so that a test can pass them in a few requests; what each
limit counts, and that the 429 says when to come back, is what is checked."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import SERVER_KEY as TEST_KEY
from tests.fixtures.marketplace import Marketplace, TestUser
from tests.realtime.conftest import open_socket, server  # noqa: F401 - fixtures used below
from tests.reliability.served import SERVER_KEY, Served, served
from tradetalk.app import create_app
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

LIMITS = {
    "messages_per_minute": 3,
    "ip_messages_per_minute": 5,
    "conversations_per_hour": 2,
    "ip_conversations_per_hour": 3,
    "direct_messages": True,
    "direct_messages_per_minute": 3,
    "attachments_per_minute": 2,
    "ip_uploads_per_minute": 3,
    "login_links_per_hour": 2,
    "ip_login_links_per_minute": 3,
    "typing_per_minute": 2,
    "ip_typing_per_minute": 3,
    "max_request_bytes": 4096,
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={**LIMITS, "media_dir": tmp_path / "media", "ocr": False})


def from_address(market: Marketplace, address: str, token: str | None = None) -> httpx.AsyncClient:
    """A client whose requests come from `address` (as the connection's peer)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=market.app, client=(address, 40000)),
        base_url="http://testserver",
        headers=headers,
    )


def assert_limited(response: httpx.Response) -> int:
    """The response is a 429 problem saying when to retry; returns the seconds."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 3600
    assert problem["retry_after_seconds"] == retry_after
    return retry_after


async def send(user: TestUser, cid: int, body: str = "Is it still available?") -> httpx.Response:
    return await user.client.post(f"/v1/conversations/{cid}/messages", json={"body": body})


# --- rate limits ------------------------------------------------------------------------------


@SQLITE_ONLY
async def test_sends_are_limited_per_user_and_per_address(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    for _ in range(3):
        assert (await send(deal.buyer, cid)).status_code == 201
    retry_after = assert_limited(await send(deal.buyer, cid))
    assert retry_after <= 60
    # The seller has a budget of their own, but the address they share with the buyer (both
    # talk from 127.0.0.1 here) has room for five sends a minute, four of them used.
    assert (await send(deal.seller, cid)).status_code == 201
    assert_limited(await send(deal.seller, cid))
    # Someone else, elsewhere, is not affected.
    other = await market.transaction()
    other_cid = await market.conversation_id(other)
    async with from_address(market, "203.0.113.7", other.buyer.token) as elsewhere:
        response = await elsewhere.post(
            f"/v1/conversations/{other_cid}/messages", json={"body": "Hello"}
        )
        assert response.status_code == 201, response.text


@SQLITE_ONLY
async def test_new_conversations_are_limited_per_hour(
    market: Marketplace, clock: ManualClock
) -> None:
    starter = await market.user()
    sellers = [await market.user() for _ in range(3)]
    for seller in sellers[:2]:
        response = await starter.client.post("/v1/conversations", json={"user_id": seller.id})
        assert response.status_code == 201, response.text
        clock.advance(timedelta(minutes=10))
    third = await starter.client.post("/v1/conversations", json={"user_id": sellers[2].id})
    retry_after = assert_limited(third)
    # The first conversation was started 20 minutes ago: the hour frees up in 40 minutes.
    assert abs(retry_after - 40 * 60) <= 5
    clock.advance(timedelta(minutes=41))
    await market.refresh(starter)
    async with from_address(market, "198.51.100.20", starter.token) as elsewhere:
        later = await elsewhere.post("/v1/conversations", json={"user_id": sellers[2].id})
        assert later.status_code == 201, later.text


@SQLITE_ONLY
async def test_new_conversations_are_limited_per_address(market: Marketplace) -> None:
    users = [await market.user() for _ in range(4)]
    target = await market.user()
    # Three attempts an hour from one address, whoever makes them.
    for user in users[:3]:
        response = await user.client.post("/v1/conversations", json={"user_id": target.id})
        assert response.status_code == 201, response.text
    assert_limited(await users[3].client.post("/v1/conversations", json={"user_id": target.id}))
    async with from_address(market, "198.51.100.21", users[3].token) as elsewhere:
        response = await elsewhere.post("/v1/conversations", json={"user_id": target.id})
        assert response.status_code == 201, response.text


@SQLITE_ONLY
async def test_uploads_are_limited_per_user_and_per_address(market: Marketplace) -> None:
    first, second = await market.user(), await market.user()

    async def upload(client: httpx.AsyncClient) -> httpx.Response:
        files = {"file": ("receipt.txt", b"Paid in full, thank you.", "text/plain")}
        return await client.post("/v1/attachments", files=files)

    assert (await upload(first.client)).status_code == 201
    assert (await upload(first.client)).status_code == 201
    assert_limited(await upload(first.client))  # two a minute for one user
    # The third upload from this address was refused; the address has had three.
    assert_limited(await upload(second.client))
    async with from_address(market, "198.51.100.22", second.token) as elsewhere:
        assert (await upload(elsewhere)).status_code == 201


@SQLITE_ONLY
async def test_login_links_are_limited_per_user_and_followed_per_address(
    market: Marketplace,
) -> None:
    user = await market.user()
    made = [await market.server.post(f"/v1/users/{user.id}/login-links") for _ in range(3)]
    assert [r.status_code for r in made[:2]] == [201, 201]
    assert_limited(made[2])
    # Guessing links from one address: three tries a minute, then even a real link waits.
    guesser = market.anonymous
    for attempt in range(3):
        response = await guesser.get(f"/web/login/guess-{attempt}")
        assert response.status_code == 404
    real = made[0].json()["url"].removeprefix("http://testserver")
    assert_limited(await guesser.get(real))
    async with from_address(market, "198.51.100.23") as elsewhere:
        assert (await elsewhere.get(real)).status_code == 303


@SQLITE_ONLY
async def test_typing_signals_are_limited_per_user_and_per_address(market: Marketplace) -> None:
    typist = await market.user()
    deals = [await market.transaction(typist) for _ in range(3)]
    cids = [await market.conversation_id(deal) for deal in deals]

    async def typing(client: httpx.AsyncClient, cid: int) -> httpx.Response:
        return await client.post(f"/v1/conversations/{cid}/typing")

    # One signal per conversation every two seconds, and (here) two a minute in all.
    assert (await typing(typist.client, cids[0])).status_code == 204
    assert (await typing(typist.client, cids[1])).status_code == 204
    assert_limited(await typing(typist.client, cids[2]))
    # That was the third signal from this address: the next person here waits too.
    neighbour = deals[2].seller
    assert_limited(await typing(neighbour.client, cids[2]))
    async with from_address(market, "198.51.100.24", neighbour.token) as elsewhere:
        assert (await typing(elsewhere, cids[2])).status_code == 204


@SQLITE_ONLY
async def test_typing_over_a_socket_counts_against_the_address(
    market: Marketplace,
    open_socket: Any,  # noqa: F811 - the realtime fixture
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    others = [await market.transaction() for _ in range(3)]
    other_cids = [await market.conversation_id(d) for d in others]
    for d, c in zip(others, other_cids, strict=True):  # three signals from 127.0.0.1 over HTTP
        assert (await d.buyer.client.post(f"/v1/conversations/{c}/typing")).status_code == 204
    seller = await open_socket(deal.seller.token)
    buyer = await open_socket(deal.buyer.token)
    await buyer.send({"type": "typing", "conversation_id": cid})  # the address's fourth: dropped
    sent = await market.send(deal.buyer, cid, "No typing signal got through before this.")
    assert (await seller.event())["data"] == sent


async def test_login_links_work_once_even_when_followed_at_the_same_time(
    market: Marketplace,
) -> None:
    user = await market.user()
    url = (await market.server.post(f"/v1/users/{user.id}/login-links")).json()["url"]
    path = url.removeprefix("http://testserver")
    browsers = [from_address(market, f"198.51.100.{n}") for n in range(30, 38)]
    try:
        responses = await asyncio.gather(*(b.get(path) for b in browsers))
    finally:
        for browser in browsers:
            await browser.aclose()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [303] + [404] * 7
    signed_in = [r for r in responses if r.status_code == 303]
    assert "tt_session=" in signed_in[0].headers["set-cookie"]


@asynccontextmanager
async def app_with(settings: Settings, clock: ManualClock) -> AsyncIterator[Marketplace]:
    """An app of its own for these settings, and its marketplace."""
    application = create_app(settings, clock=clock)
    async with LifespanManager(application), Marketplace(application, server_key=TEST_KEY) as m:
        yield m


@SQLITE_ONLY
async def test_turning_rate_limits_off_lifts_every_limit(
    settings: Settings, clock: ManualClock
) -> None:
    async with app_with(settings.model_copy(update={"rate_limits": False}), clock) as market:
        deal = await market.transaction()
        cid = await market.conversation_id(deal)
        for n in range(8):
            assert (await send(deal.buyer, cid, f"message {n}")).status_code == 201
        for _ in range(4):
            response = await deal.buyer.client.post(f"/v1/conversations/{cid}/typing")
            assert response.status_code == 204
        for _ in range(4):
            response = await market.server.post(f"/v1/users/{deal.buyer.id}/login-links")
            assert response.status_code == 201
        for n in range(4):
            assert (await market.anonymous.get(f"/web/login/guess-{n}")).status_code == 404
        sellers = [await market.user() for _ in range(4)]
        for seller in sellers:
            response = await deal.buyer.client.post(
                "/v1/conversations", json={"user_id": seller.id}
            )
            assert response.status_code == 201


@SQLITE_ONLY
@pytest.mark.parametrize("trusted", [False, True])
async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(
    settings: Settings, clock: ManualClock, trusted: bool
) -> None:
    proxies = ["127.0.0.1"] if trusted else []
    async with app_with(settings.model_copy(update={"trusted_proxies": proxies}), clock) as market:
        statuses = []
        for n in range(6):  # six different clients through one proxy at 127.0.0.1
            response = await market.anonymous.get(
                f"/web/login/guess-{n}", headers={"X-Forwarded-For": f"192.0.2.{n}"}
            )
            statuses.append(response.status_code)
    if trusted:
        assert statuses == [404] * 6  # each client has its own three tries
    else:
        assert statuses == [404, 404, 404, 429, 429, 429]  # one address: the proxy's


# --- request and frame sizes ------------------------------------------------------------------


@SQLITE_ONLY
async def test_a_large_body_is_refused_before_it_is_read(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    url = f"/v1/conversations/{cid}/messages"
    declared = await deal.buyer.client.post(url, content=b"{" + b" " * 10_000 + b"}")
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert declared.json()["code"] == "payload_too_large"

    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        nonlocal pulled
        for _ in range(1000):
            pulled += 1
            yield b" " * 1024

    streamed = await deal.buyer.client.post(
        url, content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "payload_too_large"
    assert pulled <= 6  # cut off at the limit (4 KiB), not after reading a megabyte

    # A web form is bounded the same way.
    form = await market.anonymous.post(
        f"/inbox/{cid}/messages", data={"body": "x" * 10_000, "csrf_token": "t"}
    )
    assert form.status_code == 413


@SQLITE_ONLY
async def test_uploads_keep_their_own_larger_limit(market: Marketplace) -> None:
    user = await market.user()
    text = ("A receipt line that is long enough to matter.\n" * 400).encode()  # ~18 KB
    assert len(text) > LIMITS["max_request_bytes"]
    files = {"file": ("receipt.txt", text, "text/plain")}
    response = await user.client.post("/v1/attachments", files=files)
    assert response.status_code == 201, response.text


@SQLITE_ONLY
async def test_an_oversized_socket_frame_closes_the_socket(
    market: Marketplace,
    server: str,  # noqa: F811 - the realtime fixture
) -> None:
    user = await market.user()
    async with connect(f"{server}/v1/events?token={user.token}") as socket_:
        while json.loads(await socket_.recv())["type"] != "ready":
            pass
        await socket_.send(json.dumps({"type": "typing", "conversation_id": 1, "x": "a" * 8000}))
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await socket_.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


# --- the real server: slow and oversized request heads, frames -------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`tradetalk serve` with a 2 s deadline for request heads."""
    folder = tmp_path_factory.mktemp("serve")
    with served(
        folder,
        http_header_timeout_seconds="2",
        http_max_header_bytes="8192",
        max_request_bytes="4096",
    ) as running:
        yield running


def _raw(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=15)
    return connection


SLOW_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 400


async def _drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[float, bytes]:
    """Send a request head a byte every 100 ms until the server hangs up; returns how long that
    took and what the server said (b"" when it just closed)."""
    started = time.monotonic()
    for byte in SLOW_HEAD:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(1024), timeout=0.1)
        except TimeoutError:
            continue
        except ConnectionError:  # closed, and our next byte was answered with a reset
            answer = b""
        return time.monotonic() - started, answer
    raise AssertionError("the server took the whole slow head (44 s) without hanging up")


async def _slow_loris(port: int, finished: asyncio.Event) -> tuple[float, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await _drip(reader, writer)
    finally:
        writer.close()
        finished.set()


async def test_slow_request_heads_are_cut_off_without_hurting_others(live: Served) -> None:
    lorises = [asyncio.Event() for _ in range(20)]
    attacks = [asyncio.create_task(_slow_loris(live.port, done)) for done in lorises]
    served_ok = 0
    async with httpx.AsyncClient(base_url=live.base_url, timeout=5) as normal:
        while not all(done.is_set() for done in lorises):
            response = await normal.get("/healthz")
            assert response.status_code == 200
            served_ok += 1
            await asyncio.sleep(0.05)
    results = await asyncio.gather(*attacks)
    for elapsed, answer in results:
        assert answer.startswith(b"HTTP/1.1 408") or answer == b""
        assert elapsed < 8  # the deadline is 2 s; the whole head would take 44 s
    assert served_ok >= 10  # the normal client was answered all along


async def test_a_slow_second_request_on_a_kept_alive_connection_is_cut_off(live: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert head.startswith(b"HTTP/1.1 200")
        length = re.search(rb"content-length: (\d+)", head.lower())
        assert length is not None
        await asyncio.wait_for(reader.readexactly(int(length.group(1))), timeout=5)
        elapsed, answer = await _drip(reader, writer)  # the same connection, kept alive
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408") or answer == b""
    assert elapsed < 8


async def _get_healthz(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """One GET /healthz on an open connection; the response head (its body read too)."""
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    length = re.search(rb"content-length: (\d+)", head.lower())
    if length is not None:
        await asyncio.wait_for(reader.readexactly(int(length.group(1))), timeout=5)
    return head


async def test_a_kept_alive_connection_idle_past_the_head_deadline_still_serves(
    live: Served,
) -> None:
    # The deadline is for sending a head, counted from its first byte: a connection left idle
    # between requests longer than that (a proxy's pooled connection, a client's keep-alive
    # pool) is the keep-alive timeout's to close. Closing it at the deadline reset requests
    # that clients sent on it at that moment.
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    try:
        assert (await _get_healthz(reader, writer)).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(3)  # the head deadline is 2 s
        assert (await _get_healthz(reader, writer)).startswith(b"HTTP/1.1 200")
    finally:
        writer.close()


def test_an_oversized_request_head_is_refused(live: Served) -> None:
    with _raw(live.port) as connection:
        connection.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + b"c" * 20_000 + b"\r\n\r\n"
        )
        answer = connection.recv(1024)
    assert answer.startswith(b"HTTP/1.1 431")
    # Many headers, each small, add up the same way.
    many = b"".join(b"X-H-%d: %s\r\n" % (n, b"v" * 100) for n in range(200))
    with _raw(live.port) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + b"\r\n")
        answer = connection.recv(1024)
    assert answer.startswith(b"HTTP/1.1 431")
    # A normal request with a few kilobytes of headers is fine.
    response = httpx.get(f"{live.base_url}/healthz", headers={"X-Fine": "f" * 4000})
    assert response.status_code == 200


async def test_the_real_server_bounds_bodies_and_socket_frames(live: Served) -> None:
    async with httpx.AsyncClient(
        base_url=live.base_url, headers={"Authorization": f"Bearer {SERVER_KEY}"}
    ) as operator:
        created = await operator.put(
            "/v1/users/frames", json={"display_name": "Frames", "email": "frames@example.com"}
        )
        assert created.status_code in (200, 201), created.text
        token = (await operator.post("/v1/users/frames/tokens")).json()["token"]
        big = await operator.put(
            "/v1/users/big", content=b'{"display_name": "' + b"b" * 10_000 + b'"}'
        )
        assert big.status_code == 413
        assert big.json()["code"] == "payload_too_large"
    ws_url = live.base_url.replace("http://", "ws://") + f"/v1/events?token={token}"
    async with connect(ws_url) as socket_:
        while json.loads(await socket_.recv())["type"] != "ready":
            pass
        await socket_.send("x" * 100_000)
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await socket_.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
