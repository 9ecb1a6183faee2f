"""With its database away, the API answers at once 503 `database_unavailable` with Retry-After.

In process and fast: the database is a PostgreSQL URL on a closed port, or a SQLite file that
cannot be opened. The real outage (a PostgreSQL stopped and started under load) is in
test_database_outage.py.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import SECRET, SERVER_KEY
from tests.fixtures.marketplace import Marketplace
from tradetalk.accounts import tokens
from tradetalk.app import create_app
from tradetalk.config import Settings
from tradetalk.db import read_session, unit_of_work
from tradetalk.errors import DatabaseUnavailable
from tradetalk.kit.clock import ManualClock

FAST = 5.0  # seconds: "fails fast" as a user would notice it, not a benchmark


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


def _unreachable_url(kind: str, tmp_path: Path) -> str:
    if kind == "postgresql":
        return f"postgresql://postgres@127.0.0.1:{_closed_port()}/tradetalk"
    return f"sqlite:///{tmp_path / 'no-such-dir' / 'tradetalk.db'}"


def _settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        server_api_key=SERVER_KEY,
        secret_key=SECRET,
        public_url="http://testserver",
        log_json=False,
        worker_embedded=False,
        rate_limits=False,
    )


def _user_token(user_id: str = "buyer") -> str:
    token, _ = tokens.issue(
        user_id, 0, now=datetime.now(UTC), ttl=timedelta(hours=1), secret=SECRET.encode()
    )
    return token


@pytest_asyncio.fixture(params=["postgresql", "sqlite"])
async def app_without_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    """The app started on a database it cannot reach."""
    application = create_app(_settings(_unreachable_url(request.param, tmp_path)))
    async with LifespanManager(application):
        yield application


def assert_database_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "database_unavailable"
    assert problem["status"] == 503
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit() and int(retry_after) >= 1
    assert problem["retry_after_seconds"] == int(retry_after)


async def test_every_kind_of_request_fails_fast_with_503(app_without_database: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app_without_database)
    server = {"Authorization": f"Bearer {SERVER_KEY}"}
    user = {"Authorization": f"Bearer {_user_token()}"}
    requests = [
        ("GET", "/readyz", {}, None),
        ("PUT", "/v1/users/buyer", server, {"display_name": "Buyer"}),
        ("POST", "/v1/users/buyer/tokens", server, None),
        ("GET", "/v1/conversations", user, None),
        ("POST", "/v1/conversations/1/messages", user, {"body": "hi", "client_message_id": "m1"}),
        ("GET", "/v1/events", user, None),  # the SSE stream, before it starts
    ]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for method, path, headers, body in requests:
            started = time.monotonic()
            response = await client.request(method, path, headers=headers, json=body)
            elapsed = time.monotonic() - started
            assert_database_unavailable(response)
            assert elapsed < FAST, f"{method} {path} took {elapsed:.1f} s"
        # Liveness is not readiness: the process is fine, an orchestrator must not restart it.
        assert (await client.get("/healthz")).status_code == 200


async def test_the_event_socket_closes_with_try_again_later(
    app_without_database: FastAPI,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app_without_database, lifespan="off", log_level="warning")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            async with asyncio.timeout(FAST):
                while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to await
                    await asyncio.sleep(0.01)
                url = f"ws://127.0.0.1:{port}/v1/events?token={_user_token()}"
                async with connect(url) as events:
                    with pytest.raises(ConnectionClosed) as closed:
                        await events.recv()
        finally:
            server.should_exit = True
            await serving
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013  # "try again later"


async def test_database_access_outside_a_unit_of_work_fails_with_503_too(
    app_without_database: FastAPI,
) -> None:
    """The safety net: a raw engine connection (no unit of work to translate the driver's
    error) still answers 503, not 500."""
    ctx = app_without_database.state.ctx

    async def direct() -> None:
        async with ctx.db.write_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    app_without_database.add_api_route("/test-direct", direct)
    transport = httpx.ASGITransport(app=app_without_database)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert_database_unavailable(await client.get("/test-direct"))


async def test_a_wrong_statement_is_not_an_outage(app: FastAPI) -> None:
    with pytest.raises(DBAPIError) as raised:
        async with unit_of_work(app.state.ctx) as uow:
            await uow.session.execute(text("SELECT * FROM no_such_table"))
    assert not isinstance(raised.value, DatabaseUnavailable)

    async def broken() -> None:
        async with read_session(app.state.ctx) as session:
            await session.execute(text("SELECT * FROM no_such_table"))

    app.add_api_route("/test-broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/test-broken")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"


@pytest.mark.parametrize("pre_ping", [True, False])
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_pool_recovers_when_postgresql_drops_its_connections(
    settings: Settings, clock: ManualClock, database_url: str, pre_ping: bool
) -> None:
    """pg_terminate_backend does to pooled connections what a restart does: they are dead.

    With pre_ping (the default) the pool replaces them unnoticed; without it, the requests that
    drew one get a 503 to retry, and the pool heals itself."""
    application = create_app(
        settings.model_copy(update={"db_pool_pre_ping": pre_ping}), clock=clock
    )
    async with (
        LifespanManager(application),
        Marketplace(application, server_key=SERVER_KEY) as market,
    ):
        deal = await market.transaction()
        cid = await market.conversation_id(deal)
        await market.send(deal.buyer, cid, "before the restart")
        admin = await asyncpg.connect(database_url)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        assert killed >= 1
        url = f"/v1/conversations/{cid}/messages"
        body = {"body": "after the restart", "client_message_id": "after"}
        response = await deal.buyer.client.post(url, json=body)
        if not pre_ping:
            assert_database_unavailable(response)
            response = await deal.buyer.client.post(url, json=body)
        assert response.status_code == 201, response.text
        history = await deal.buyer.client.get(url)
        assert [m["body"] for m in history.json()["items"]] == [
            "after the restart",
            "before the restart",
        ]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_every_connection_busy_answers_503_overloaded_not_database_unavailable(
    settings: Settings, clock: ManualClock
) -> None:
    """The database is there but this process has no connection free in time: a distinct code
    (load, not an outage) with a short Retry-After; the retry succeeds once one is free."""
    application = create_app(
        settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_seconds": 0.3}),
        clock=clock,
    )
    async with (
        LifespanManager(application),
        Marketplace(application, server_key=SERVER_KEY) as market,
    ):
        deal = await market.transaction()
        cid = await market.conversation_id(deal)
        url = f"/v1/conversations/{cid}/messages"
        body = {"body": "is it still there?", "client_message_id": "busy-1"}
        engine = application.state.ctx.db.write_engine
        # A pool of one plus one overflow connection: both held elsewhere.
        async with engine.connect() as first, engine.connect() as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            started = time.monotonic()
            response = await deal.buyer.client.post(url, json=body)
            waited = time.monotonic() - started
            readiness = await market.server.get("/readyz")
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"] == "overloaded"
        assert problem["retry_after_seconds"] == 2 and response.headers["Retry-After"] == "2"
        assert waited < FAST
        assert readiness.status_code == 503 and readiness.json()["code"] == "overloaded"
        retried = await deal.buyer.client.post(url, json=body)
        assert retried.status_code == 201, retried.text
        history = await deal.buyer.client.get(url)
        assert [m["body"] for m in history.json()["items"]] == ["is it still there?"]
