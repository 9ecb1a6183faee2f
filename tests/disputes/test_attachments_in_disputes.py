"""Support opens the proof of shipment in a dispute, and only then; every read is audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attachments import files
from tests.attachments.conftest import upload
from tests.fixtures.marketplace import Marketplace
from tradetalk.config import Settings


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"media_dir": tmp_path / "media", "ocr": False})


async def test_support_opens_attachments_only_during_a_dispute(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    support = await market.user(is_support=True)
    uploaded = await upload(deal.seller, files.pdf(), "receipt.pdf", "application/pdf")
    assert uploaded.status_code == 201, uploaded.text
    attachment_id = uploaded.json()["id"]
    await market.send(deal.seller, cid, "Proof of shipment", attachment_ids=[attachment_id])
    url = f"/v1/attachments/{attachment_id}"
    assert (await deal.buyer.client.get(url)).status_code == 200
    assert (await support.client.get(url)).status_code == 404

    await market.server.post(f"/v1/transactions/{deal.id}/dispute", json={"reason": "not received"})
    opened = await support.client.get(url)
    assert opened.status_code == 200
    assert opened.content.startswith(b"%PDF")
    audit = (await market.server.get("/v1/audit-log", params={"conversation_id": cid})).json()[
        "items"
    ]
    assert "attachment.read" in {entry["action"] for entry in audit}

    await market.server.request(
        "DELETE", f"/v1/transactions/{deal.id}/dispute", json={"resolution": "refunded"}
    )
    assert (await support.client.get(url)).status_code == 404
