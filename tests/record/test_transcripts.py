"""Transcripts prove themselves: the JSON verifies with `tradetalk verify-transcript` and any
change is caught; the PDF reads like a record; a party never gets withdrawn text."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdf
import pytest

from tests.conftest import SECRET
from tests.fixtures.marketplace import Marketplace, TestTransaction
from tradetalk.record import chain

TRADETALK = [sys.executable, "-m", "tradetalk.cli"]


def verify_cli(path: Path, *, secret: str | None = SECRET) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    if secret:
        env["TRADETALK_SECRET_KEY"] = secret
    return subprocess.run(
        [*TRADETALK, "verify-transcript", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _talk(market: Marketplace) -> tuple[TestTransaction, int, list[dict[str, Any]]]:
    deal = await market.transaction(title="1909-S VDB Lincoln cent")
    cid = await market.conversation_id(deal)
    sent = [
        await market.send(deal.buyer, cid, "Is the coin certified?"),
        await market.send(deal.seller, cid, "Yes, PCGS MS63, café-stored ✓"),
        await market.send(deal.buyer, cid, "Great, paying now"),
    ]
    await deal.seller.client.patch(
        f"/v1/conversations/{cid}/messages/{sent[1]['id']}", json={"body": "Yes, PCGS MS64"}
    )
    return deal, cid, sent


async def test_a_transcript_verifies_and_every_tampering_is_caught(
    market: Marketplace, tmp_path: Path
) -> None:
    deal, cid, _ = await _talk(market)
    response = await deal.buyer.client.get(f"/v1/conversations/{cid}/transcript?format=json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert [e["kind"] for e in document["entries"]] == [
        "message.posted",
        "message.posted",
        "message.posted",
        "message.edited",
    ]
    assert document["conversation"]["transaction"]["title"] == "1909-S VDB Lincoln cent"
    assert document["final_hash"] == document["entries"][-1]["hash"]

    intact = tmp_path / "intact.json"
    intact.write_bytes(response.content)
    ok = verify_cli(intact)
    assert ok.returncode == 0, ok.stderr
    assert "seal verified" in ok.stdout and document["final_hash"] in ok.stdout

    def tampered(name: str, change: Any) -> subprocess.CompletedProcess[str]:
        copy = json.loads(response.content)
        change(copy)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(copy, ensure_ascii=False))
        return verify_cli(path)

    def change_body(d: dict[str, Any]) -> None:
        d["entries"][2]["payload"]["body"] = "Never mind, cancelling"

    def delete_entry(d: dict[str, Any]) -> None:
        del d["entries"][1]

    def reorder(d: dict[str, Any]) -> None:
        d["entries"][0], d["entries"][2] = d["entries"][2], d["entries"][0]

    def insert(d: dict[str, Any]) -> None:
        forged = dict(d["entries"][1], payload=dict(d["entries"][1]["payload"], body="refund!"))
        d["entries"].insert(2, forged)

    def cut_tail(d: dict[str, Any]) -> None:
        d["entries"].pop()
        d["entry_count"] -= 1
        d["final_hash"] = d["entries"][-1]["hash"]

    for name, change, where in [
        ("changed", change_body, "entry 2 (message.posted)"),
        ("deleted", delete_entry, "entry 1"),
        ("reordered", reorder, "entry 0"),
        ("inserted", insert, "entry 2"),
        ("cut", cut_tail, "seal"),
    ]:
        result = tampered(name, change)
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert "TAMPERED" in result.stderr and where in result.stderr, (name, result.stderr)


async def test_unreadable_files_exit_non_zero(tmp_path: Path) -> None:
    missing = verify_cli(tmp_path / "nope.json")
    (tmp_path / "junk.json").write_text("{not json")
    junk = verify_cli(tmp_path / "junk.json")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    other = verify_cli(tmp_path / "other.json")
    assert (missing.returncode, junk.returncode, other.returncode) == (2, 2, 1)


async def test_without_the_server_secret_the_chain_is_still_checked(
    market: Marketplace, tmp_path: Path
) -> None:
    deal, cid, _ = await _talk(market)
    path = tmp_path / "t.json"
    path.write_bytes((await deal.seller.client.get(f"/v1/conversations/{cid}/transcript")).content)
    result = verify_cli(path, secret=None)
    assert result.returncode == 0 and "seal not checked" in result.stdout
    foreign = verify_cli(path, secret="another-servers-secret-key-entirely")
    assert foreign.returncode == 1


async def test_a_party_never_gets_withdrawn_text_but_the_chain_holds(
    market: Marketplace, tmp_path: Path
) -> None:
    deal, cid, sent = await _talk(market)
    await deal.seller.client.delete(f"/v1/conversations/{cid}/messages/{sent[1]['id']}")
    for party in (deal.buyer, deal.seller):
        raw = (await party.client.get(f"/v1/conversations/{cid}/transcript")).text
        assert "PCGS" not in raw
        document = json.loads(raw)
        assert [e["redacted"] for e in document["entries"]] == [
            False,
            True,
            False,
            True,
            False,
        ]
        result = chain.verify(document, key=chain.seal_key(SECRET.encode()))
        assert result.ok and result.redacted == 2


async def test_the_pdf_is_readable_and_names_the_final_hash(market: Marketplace) -> None:
    deal, cid, _ = await _talk(market)
    await deal.buyer.client.delete(
        f"/v1/conversations/{cid}/messages/"
        + str((await market.send(deal.buyer, cid, "<b>oops</b> & wrong thread"))["id"])
    )
    document = (await deal.buyer.client.get(f"/v1/conversations/{cid}/transcript")).json()
    response = await deal.buyer.client.get(f"/v1/conversations/{cid}/transcript?format=pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    for expected in (
        "1909-S VDB Lincoln cent",
        deal.buyer.display_name,
        deal.seller.display_name,
        "Is the coin certified?",
        "Yes, PCGS MS64",
        "edited",
        "withdrawn",
        document["final_hash"],
    ):
        assert expected in flat, expected
    assert "oops" not in flat


@pytest.mark.parametrize("fmt", ["xml", "PDF"])
async def test_unknown_formats_are_refused(market: Marketplace, fmt: str) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    response = await deal.buyer.client.get(f"/v1/conversations/{cid}/transcript?format={fmt}")
    assert response.status_code == 422


async def test_outsiders_get_no_transcript(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    outsider = await market.user()
    support = await market.user(is_support=True)
    for client in (outsider.client, support.client):
        assert (await client.get(f"/v1/conversations/{cid}/transcript")).status_code == 404
    assert (await market.anonymous.get(f"/v1/conversations/{cid}/transcript")).status_code == 401
