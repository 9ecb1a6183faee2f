"""The operator's check of the stored record catches changes made behind the application's back."""

from __future__ import annotations

import os
import subprocess
import sys

from fastapi import FastAPI
from sqlalchemy import text

from tests.fixtures.marketplace import Marketplace
from tradetalk.db import read_session, unit_of_work
from tradetalk.record.integrity import check_conversation


def verify_record_cli(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    env["TRADETALK_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "tradetalk.cli", "verify-record"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _problems(app: FastAPI, cid: int) -> list[str]:
    async with read_session(app.state.ctx) as session:
        return [f.problem for f in await check_conversation(session, cid)]


async def _tamper(app: FastAPI, statement: str) -> None:
    async with unit_of_work(app.state.ctx) as uow:
        await uow.session.execute(text(statement))


async def test_direct_database_changes_are_found(
    app: FastAPI, market: Marketplace, database_url: str
) -> None:
    deal = await market.transaction()
    support = await market.user(is_support=True)
    cid = await market.conversation_id(deal)
    first = await market.send(deal.buyer, cid, "Is it genuine?")
    second = await market.send(deal.seller, cid, "Yes")
    url = f"/v1/conversations/{cid}/messages"
    await deal.seller.client.patch(f"{url}/{second['id']}", json={"body": "Yes, certified"})
    await deal.buyer.client.delete(f"{url}/{first['id']}")
    await market.server.post(f"/v1/transactions/{deal.id}/dispute", json={"reason": "fake"})
    await support.client.post(url, json={"body": "Please send the certificate."})
    assert await _problems(app, cid) == []
    ok = verify_record_cli(database_url)
    assert ok.returncode == 0, ok.stderr

    await _tamper(app, f"UPDATE messages SET body = 'No' WHERE id = {second['id']}")
    assert await _problems(app, cid) == [f"message {second['id']} differs from its record"]
    bad = verify_record_cli(database_url)
    assert bad.returncode == 1 and "differs from its record" in bad.stderr

    await _tamper(app, f"UPDATE messages SET body = 'Yes, certified' WHERE id = {second['id']}")
    await _tamper(app, f"DELETE FROM record_entries WHERE conversation_id = {cid} AND position = 1")
    problems = await _problems(app, cid)
    assert len(problems) == 1 and problems[0].startswith("chain broken: entry 1")
