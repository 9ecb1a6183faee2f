"""The purge removes finished, long-quiet conversations and nothing a dispute still needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.fixtures.marketplace import Marketplace, TestTransaction
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock
from tradetalk.record.retention import purge


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"retention_days": 30, "dispute_hold_days": 45})


async def _finish(market: Marketplace, deal: TestTransaction, status: str = "completed") -> None:
    response = await market.server.put(
        f"/v1/transactions/{deal.id}",
        json={
            "buyer_id": deal.buyer.id,
            "seller_id": deal.seller.id,
            "title": "1921 Morgan silver dollar",
            "status": status,
        },
    )
    assert response.status_code == 200, response.text


async def _deal_with_talk(
    market: Marketplace, status: str = "completed"
) -> tuple[TestTransaction, int]:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Thanks, arrived safely")
    await _finish(market, deal, status)
    return deal, cid


async def test_the_purge_keeps_what_a_dispute_or_an_open_deal_needs(
    app: FastAPI, market: Marketplace, clock: ManualClock
) -> None:
    done, done_cid = await _deal_with_talk(market)
    _refunded, refunded_cid = await _deal_with_talk(market, "refunded")
    disputed, disputed_cid = await _deal_with_talk(market)
    recently_closed, recently_closed_cid = await _deal_with_talk(market)
    _ongoing, ongoing_cid = await _deal_with_talk(market, "shipped")
    lively, lively_cid = await _deal_with_talk(market)
    final_hash = (await done.buyer.client.get(f"/v1/conversations/{done_cid}/transcript")).json()[
        "final_hash"
    ]
    await market.server.post(f"/v1/transactions/{disputed.id}/dispute", json={"reason": "x"})

    clock.advance(timedelta(days=29))
    await market.refresh(lively.buyer)
    await market.send(lively.buyer, lively_cid, "One more question")
    url = f"/v1/transactions/{recently_closed.id}/dispute"
    await market.server.post(url, json={"reason": "x"})
    await market.server.delete(url)
    clock.advance(timedelta(days=2))

    dry = await purge(app.state.ctx, dry_run=True)
    assert sorted(dry.conversation_ids) == sorted([done_cid, refunded_cid])
    report = await purge(app.state.ctx)
    assert sorted(report.conversation_ids) == sorted([done_cid, refunded_cid])
    assert (await purge(app.state.ctx)).conversation_ids == []

    await market.refresh(done.buyer)
    await market.refresh(disputed.buyer)
    assert (await done.buyer.client.get(f"/v1/conversations/{done_cid}")).status_code == 404
    kept = await disputed.buyer.client.get(f"/v1/conversations/{disputed_cid}/messages")
    assert [m["body"] for m in kept.json()["items"] if m["kind"] == "text"] == [
        "Thanks, arrived safely"
    ]
    audit = (await market.server.get("/v1/audit-log", params={"conversation_id": done_cid})).json()[
        "items"
    ]
    assert [(e["action"], e["actor_type"]) for e in audit] == [("record.purged", "operator")]
    assert audit[0]["detail"]["final_hash"] == final_hash
    assert audit[0]["detail"]["entry_count"] == 2  # the message and the status note

    # Closing the dispute was activity on the record; once that is past retention the hold
    # after closing still keeps it, and when the hold has passed too it may go.
    clock.advance(timedelta(days=29))  # 31 days after closing
    assert recently_closed_cid not in (await purge(app.state.ctx)).conversation_ids
    clock.advance(timedelta(days=15))  # 46 days after closing
    assert recently_closed_cid in (await purge(app.state.ctx)).conversation_ids
    assert ongoing_cid not in (await purge(app.state.ctx, dry_run=True)).conversation_ids


async def test_retention_zero_keeps_everything(
    app: FastAPI, market: Marketplace, clock: ManualClock
) -> None:
    await _deal_with_talk(market)
    clock.advance(timedelta(days=3650))
    ctx = app.state.ctx
    ctx.settings = ctx.settings.model_copy(update={"retention_days": 0})
    assert (await purge(ctx)).conversation_ids == []


def test_the_purge_command_runs_on_a_fresh_database(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    env["TRADETALK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "tradetalk.cli", "purge", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"dry_run": True, "purged": 0, "conversation_ids": []}
