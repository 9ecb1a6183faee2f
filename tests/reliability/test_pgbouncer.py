"""Through pgbouncer in transaction mode, as docs/scaling.md tells operators to run it.

Debian 12's pgbouncer (1.18) cannot carry named prepared statements in transaction mode;
with `TRADETALK_DB_STATEMENT_CACHE=false` tradetalk works through it anyway.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI
from tests.fixtures.marketplace import Marketplace
from tests.reliability.served import free_port
from tradetalk.config import Settings

PGBOUNCER = "/usr/sbin/pgbouncer"

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def pgbouncer(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A pgbouncer in transaction mode with two server connections, in front of the test
    database; its URL."""
    if not Path(PGBOUNCER).exists():
        reason = f"{PGBOUNCER} is not installed (Debian package pgbouncer)"
        if IN_CI:
            pytest.fail(f"{reason}; CI runs every tier")
        pytest.skip(reason)
    direct = make_url(database_url)
    port = free_port()
    config = tmp_path / "pgbouncer.ini"
    config.write_text(
        f"""[databases]
{direct.database} = host={direct.host} port={direct.port or 5432} user={direct.username}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
"""
    )
    # pgbouncer refuses to run as root: it drops to postgres, and logs to the stderr we open.
    command = [PGBOUNCER, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(config)]
    log = (tmp_path / "pgbouncer.log").open("wb")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait_for_port(port)
        yield direct.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        process.send_signal(signal.SIGINT)  # pgbouncer's "shut down now"
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"pgbouncer did not listen on {port}")


@pytest.fixture
def settings(settings: Settings, pgbouncer: str) -> Settings:
    """The app talks to the database through pgbouncer only, without named statements."""
    return settings.model_copy(
        update={"database_url": pgbouncer, "db_statement_cache": False, "db_pool_size": 8}
    )


async def test_buyers_and_sellers_talk_through_pgbouncer_in_transaction_mode(
    app: FastAPI, market: Marketplace
) -> None:
    deals = [await market.transaction() for _ in range(4)]
    conversations = [await market.conversation_id(deal) for deal in deals]
    # Sixteen sends at once over two server connections: transactions from different app
    # connections take turns on the same server connection.
    sends = [
        market.send(deal.buyer if i % 2 else deal.seller, cid, f"is lot {i} still sealed?")
        for i in range(4)
        for deal, cid in zip(deals, conversations, strict=True)
    ]
    await asyncio.gather(*sends)

    for deal, cid in zip(deals, conversations, strict=True):
        page = await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")
        assert page.status_code == 200
        assert [m["seq"] for m in page.json()["items"]] == [4, 3, 2, 1]
        inbox = await deal.seller.client.get("/v1/conversations")
        assert inbox.status_code == 200
        assert cid in [c["id"] for c in inbox.json()["items"]]
