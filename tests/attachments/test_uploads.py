"""Uploading, sending and fetching attachments, as buyers and sellers do (both databases)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import event, select

from tests.attachments import files
from tests.attachments.conftest import stored_files, upload
from tests.fixtures.marketplace import Marketplace
from tradetalk.attachments.models import Attachment
from tradetalk.attachments.service import purge_unclaimed
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock
from tradetalk.realtime.models import Event

MAX_BYTES = 1024 * 1024


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"media_dir": tmp_path / "media", "max_attachment_bytes": MAX_BYTES, "ocr": False}
    )


def messages_url(cid: int) -> str:
    return f"/v1/conversations/{cid}/messages"


async def test_seller_sends_photos_and_a_receipt_that_the_buyer_opens(
    market: Marketplace, settings: Settings, app: FastAPI
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    photo = await upload(deal.seller, files.jpeg_with_gps(), "IMG_2041.jpg")
    label = await upload(deal.seller, files.image_bytes("PNG"), "label.png", "image/png")
    receipt = await upload(deal.seller, files.pdf(), "receipt.pdf", "application/pdf")
    assert [r.status_code for r in (photo, label, receipt)] == [201, 201, 201], receipt.text
    assert photo.json()["content_type"] == "image/jpeg"
    assert (photo.json()["width"], photo.json()["height"]) == (80, 40)
    assert photo.json()["filename"] == "IMG_2041.jpg"
    assert receipt.json()["thumbnail_url"] is None
    ids = [photo.json()["id"], label.json()["id"], receipt.json()["id"]]
    assert all(len(i) == 22 for i in ids)

    sent = await deal.seller.client.post(
        messages_url(cid), json={"body": "Posted, receipt attached", "attachment_ids": ids}
    )
    assert sent.status_code == 201, sent.text
    assert [a["id"] for a in sent.json()["attachments"]] == ids
    async with app.state.ctx.db.read_sessions() as session:
        events = (
            await session.scalars(
                select(Event).where(Event.user_id == deal.buyer.id, Event.type == "message.created")
            )
        ).all()
    assert [a["id"] for a in json.loads(events[-1].data)["attachments"]] == ids

    thread = (await deal.buyer.client.get(messages_url(cid))).json()["items"]
    shown = thread[0]["attachments"]
    assert [a["filename"] for a in shown] == ["IMG_2041.jpg", "label.png", "receipt.pdf"]
    assert [a["content_type"] for a in shown] == ["image/jpeg", "image/png", "application/pdf"]

    image = await deal.buyer.client.get(shown[0]["url"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in image.headers["content-security-policy"]
    assert image.headers["content-disposition"].startswith("inline;")
    assert int(image.headers["content-length"]) == shown[0]["size"] == len(image.content)
    with Image.open(io.BytesIO(image.content)) as opened:
        assert not opened.getexif() and not opened.getexif().get_ifd(files.GPS_IFD)
    assert b"GPS" not in image.content and b"Jane Seller" not in image.content

    document = await deal.buyer.client.get(shown[2]["url"])
    assert document.status_code == 200
    assert document.content == files.pdf()  # a clean PDF is kept byte for byte
    assert document.headers["content-type"] == "application/pdf"
    assert document.headers["content-disposition"] == (
        "attachment; filename=\"receipt.pdf\"; filename*=UTF-8''receipt.pdf"
    )

    thumbnail = await deal.buyer.client.get(shown[0]["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/webp"
    no_thumbnail = await deal.buyer.client.get(f"/v1/attachments/{ids[2]}/thumbnail")
    assert no_thumbnail.status_code == 404

    inbox = (await deal.buyer.client.get("/v1/conversations")).json()["items"]
    assert len(inbox[0]["last_message"]["attachments"]) == 3


async def test_every_accepted_kind_is_stored_as_what_its_content_is(market: Marketplace) -> None:
    user = await market.user()
    cases = [
        (files.image_bytes("JPEG"), "a.jpg", "image/jpeg"),
        (files.image_bytes("PNG"), "b.png", "image/png"),
        (files.image_bytes("WEBP"), "c.webp", "image/webp"),
        (files.image_bytes("GIF"), "d.gif", "image/gif"),
        (files.heic_with_gps(), "e.HEIC", "image/jpeg"),  # re-encoded for every browser
        (files.pdf(), "f.pdf", "application/pdf"),
        (b"Posted: 1Z999AA10123456784\n", "g.txt", "text/plain; charset=utf-8"),
        # Named and declared as a JPEG, but a PNG: the content decides, and the name follows.
        (files.image_bytes("PNG"), "h.jpg", "image/png"),
    ]
    for data, name, expected in cases:
        response = await upload(user, data, name, "application/octet-stream")
        assert response.status_code == 201, (name, response.text)
        assert response.json()["content_type"] == expected, name
    names = [(await upload(user, data, name)).json()["filename"] for data, name, _ in cases[4:8:3]]
    assert names == ["e.jpg", "h.png"]


@dataclass
class Hostile:
    name: str
    data: bytes
    filename: str
    declared: str
    status: int
    code: str


HOSTILE = [
    Hostile(
        "html named as photo",
        files.HTML,
        "photo.jpg",
        "image/jpeg",
        415,
        "unsupported_attachment_type",
    ),
    Hostile(
        "svg with script",
        files.SVG_WITH_SCRIPT,
        "logo.svg",
        "image/svg+xml",
        415,
        "unsupported_attachment_type",
    ),
    Hostile(
        "html page", files.HTML, "receipt.html", "text/html", 415, "unsupported_attachment_type"
    ),
    Hostile(
        "elf executable",
        files.ELF,
        "tracking",
        "application/octet-stream",
        415,
        "unsupported_attachment_type",
    ),
    Hostile(
        "windows executable",
        files.PE,
        "receipt.pdf.exe",
        "application/pdf",
        415,
        "unsupported_attachment_type",
    ),
    Hostile(
        "zip archive",
        files.zip_file(),
        "photos.zip",
        "application/zip",
        415,
        "unsupported_attachment_type",
    ),
    Hostile(
        "animated gif",
        files.animated_gif(),
        "wave.gif",
        "image/gif",
        415,
        "unsupported_attachment_type",
    ),
    Hostile(
        "pdf with javascript",
        files.pdf(javascript=True),
        "receipt.pdf",
        "application/pdf",
        422,
        "attachment_unsafe",
    ),
    Hostile(
        "pdf with launch action",
        files.pdf(launch=True),
        "receipt.pdf",
        "application/pdf",
        422,
        "attachment_unsafe",
    ),
    Hostile(
        "pdf with embedded file",
        files.pdf(embedded=True),
        "r.pdf",
        "application/pdf",
        422,
        "attachment_unsafe",
    ),
    Hostile("decompression bomb", files.png_bomb(), "big.png", "image/png", 422, "image_too_large"),
    Hostile(
        "truncated jpeg",
        files.jpeg_with_gps()[:400],
        "cut.jpg",
        "image/jpeg",
        422,
        "attachment_unreadable",
    ),
    Hostile("zero bytes", b"", "empty.jpg", "image/jpeg", 422, "attachment_empty"),
]


async def test_hostile_files_are_refused_and_nothing_is_stored(
    market: Marketplace, settings: Settings, app: FastAPI
) -> None:
    user = await market.user()
    for case in HOSTILE:
        response = await upload(user, case.data, case.filename, case.declared)
        assert response.status_code == case.status, (case.name, response.text)
        problem = response.json()
        assert problem["code"] == case.code, case.name
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["detail"], case.name
    assert stored_files(settings.media_dir) == []
    async with app.state.ctx.db.read_sessions() as session:
        assert (await session.scalars(select(Attachment))).all() == []


async def test_file_names_with_paths_and_control_characters_are_made_harmless(
    market: Marketplace, settings: Settings
) -> None:
    user = await market.user()
    name = "../../../etc/cron.d/evil\x07\u202etxt.sh".encode()
    boundary = b"b0undary"
    raw = (
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + name
        + b'"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--'
        + boundary
        + b"--\r\n"
    )
    response = await user.client.post(
        "/v1/attachments",
        content=raw,
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "eviltxt.txt"
    # What a browser sends for a name with a line break and quotes (HTML form encoding).
    quoted = await upload(user, b"hi", 'my "best"\nphoto.txt', "text/plain")
    assert quoted.json()["filename"] == "my _best_ photo.txt"
    # Stored under a random key inside the media folder, never under the given name.
    stored = stored_files(settings.media_dir)
    assert len(stored) == 2
    for path in stored:
        assert path.resolve().is_relative_to(settings.media_dir.resolve())
        assert "evil" not in str(path) and "best" not in str(path)
    fetched = await user.client.get(response.json()["url"])
    assert fetched.headers["content-disposition"].startswith('attachment; filename="eviltxt.txt"')


async def test_an_oversize_upload_is_refused_while_it_streams(
    market: Marketplace, settings: Settings
) -> None:
    user = await market.user()
    boundary = "tradetalk-boundary"
    sent_chunks = 0
    total_chunks = 64  # 64 x 256 KiB = 16 MiB offered, 1 MiB allowed

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent_chunks
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        for _ in range(total_chunks):
            sent_chunks += 1
            yield b"\xff" * (256 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await user.client.post(
        "/v1/attachments",
        content=body(),  # no Content-Length: the limit must hold while reading
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "attachment_too_large"
    assert sent_chunks < 10  # stopped soon after the limit, not after reading it all
    # With a Content-Length the request is refused before its body is read.
    declared = await upload(user, b"\x00" * (MAX_BYTES + 100_000), "big.pdf")
    assert declared.status_code == 413
    exactly = await upload(user, b"a" * MAX_BYTES, "at-the-limit.txt", "text/plain")
    assert exactly.status_code == 201, exactly.text
    assert len(stored_files(settings.media_dir)) == 1


async def test_malformed_and_anonymous_uploads_are_refused(market: Marketplace) -> None:
    user = await market.user()
    anonymous = await upload(market.anonymous, files.image_bytes("PNG"))
    assert anonymous.status_code == 401
    not_multipart = await user.client.post("/v1/attachments", content=b"raw bytes")
    assert not_multipart.status_code == 422
    assert not_multipart.json()["code"] == "upload_malformed"
    wrong_field = await user.client.post(
        "/v1/attachments", files={"photo": ("a.png", files.image_bytes("PNG"), "image/png")}
    )
    assert wrong_field.status_code == 422
    assert wrong_field.json()["code"] == "upload_malformed"


async def test_an_upload_is_its_uploaders_until_a_message_claims_it(market: Marketplace) -> None:
    deal = await market.transaction()
    outsider = await market.user()
    cid = await market.conversation_id(deal)
    mine = (await upload(deal.buyer, files.image_bytes("JPEG"))).json()["id"]
    url = f"/v1/attachments/{mine}"

    assert (await deal.buyer.client.get(url)).status_code == 200
    assert (await deal.seller.client.get(url)).status_code == 404  # not sent yet
    assert (await outsider.client.get(url)).status_code == 404

    # Someone else's upload, and one that does not exist, fail alike.
    theirs = await deal.seller.client.post(
        messages_url(cid), json={"body": "look", "attachment_ids": [mine]}
    )
    missing = await deal.seller.client.post(
        messages_url(cid), json={"body": "look", "attachment_ids": ["A" * 22]}
    )
    assert theirs.status_code == missing.status_code == 422
    assert theirs.json()["code"] == missing.json()["code"] == "attachment_not_available"
    assert theirs.json()["detail"] == missing.json()["detail"]
    assert (await deal.seller.client.get(messages_url(cid))).json()["items"] == []

    sent = await deal.buyer.client.post(
        messages_url(cid), json={"body": "", "attachment_ids": [mine]}
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["body"] == ""
    assert (await deal.seller.client.get(url)).status_code == 200
    assert (await outsider.client.get(url)).status_code == 404
    assert (await outsider.client.get(f"{url}/thumbnail")).status_code == 404

    # Used once only, even by its owner, and even in another conversation.
    again = await deal.buyer.client.post(
        messages_url(cid), json={"body": "again", "attachment_ids": [mine]}
    )
    assert again.status_code == 422 and again.json()["code"] == "attachment_not_available"


async def test_attachment_lists_are_validated(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    one = (await upload(deal.buyer, files.image_bytes("PNG"))).json()["id"]
    refused = [
        {"body": "", "attachment_ids": []},
        {"body": "twice", "attachment_ids": [one, one]},
        {"body": "too many", "attachment_ids": [f"{i:022d}" for i in range(11)]},
        {"body": "bad id", "attachment_ids": ["../../etc/passwd"]},
    ]
    for payload in refused:
        response = await deal.buyer.client.post(messages_url(cid), json=payload)
        assert response.status_code == 422, payload
        assert response.json()["code"] == "validation_error", payload


async def test_a_retried_send_returns_the_same_message_with_its_attachments(
    market: Marketplace,
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    photo = (await upload(deal.seller, files.image_bytes("PNG"))).json()["id"]
    payload = {"body": "", "attachment_ids": [photo], "client_message_id": "m-1"}
    first = await deal.seller.client.post(messages_url(cid), json=payload)
    retry = await deal.seller.client.post(messages_url(cid), json=payload)
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert [a["id"] for a in retry.json()["attachments"]] == [photo]


async def test_message_pages_load_attachments_in_a_fixed_number_of_queries(
    market: Marketplace, app: FastAPI
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)

    async def send_with_photos(count: int) -> None:
        ids = [
            (await upload(deal.seller, files.image_bytes("PNG"))).json()["id"] for _ in range(count)
        ]
        await market.send(deal.seller, cid, "photos", attachment_ids=ids)

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = app.state.ctx.db.read_engine.sync_engine

    async def queries_for_page() -> tuple[int, Sequence[dict[str, Any]]]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            items = (await deal.buyer.client.get(messages_url(cid))).json()["items"]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements), items

    await send_with_photos(1)
    few, _ = await queries_for_page()
    for _ in range(3):
        await send_with_photos(2)
    many, items = await queries_for_page()
    assert [len(m["attachments"]) for m in items] == [2, 2, 2, 1]
    assert many == few


async def test_unclaimed_uploads_are_cleaned_up_after_a_while(
    market: Marketplace, app: FastAPI, clock: ManualClock, settings: Settings
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    kept = (await upload(deal.seller, files.image_bytes("PNG"))).json()["id"]
    forgotten = (await upload(deal.seller, files.image_bytes("JPEG"))).json()["id"]
    await market.send(deal.seller, cid, "the box", attachment_ids=[kept])
    assert len(stored_files(settings.media_dir)) == 4  # two images, two thumbnails

    ctx = app.state.ctx
    assert await purge_unclaimed(ctx, timedelta(hours=24)) == 0  # too young to go
    clock.advance(timedelta(hours=25))
    await market.refresh(deal.seller)
    assert await purge_unclaimed(ctx, timedelta(hours=24)) == 1
    assert (await deal.seller.client.get(f"/v1/attachments/{forgotten}")).status_code == 404
    assert (await deal.seller.client.get(f"/v1/attachments/{kept}")).status_code == 200
    assert len(stored_files(settings.media_dir)) == 2
    late = await deal.seller.client.post(
        messages_url(cid), json={"body": "", "attachment_ids": [forgotten]}
    )
    assert late.status_code == 422


@dataclass(frozen=True)
class FakeFinding:
    kind: str
    text: str
    start: int = 0
    end: int = 0


def fake_shield(text: str) -> list[FakeFinding]:
    """Stands in for protection.detector: digits that look like a phone number, or an email."""
    import re

    found = re.findall(r"\d{3}[\s.-]?\d{3}[\s.-]?\d{4}|[\w.]+@[\w.]+\.\w+", text)
    return [FakeFinding("email" if "@" in f else "phone", f) for f in found]


async def test_contact_details_in_a_file_name_or_text_file_are_blocked(
    market: Marketplace, app: FastAPI, settings: Settings
) -> None:
    app.state.ctx.attachments.contact_scanner = fake_shield
    user = await market.user()
    named = await upload(user, files.image_bytes("PNG"), "call me 415-555-0199.png")
    assert named.status_code == 422
    problem = named.json()
    assert problem["code"] == "contact_info_blocked"
    assert problem["findings"] == [{"kind": "phone", "text": "415-555-0199", "source": "file_name"}]
    written = await upload(user, b"Write to jane.seller@example.com", "note.txt", "text/plain")
    assert written.status_code == 422
    assert written.json()["findings"][0]["source"] == "file_text"
    fine = await upload(user, files.image_bytes("PNG"), "front view 2.png")
    assert fine.status_code == 201
    assert len(stored_files(settings.media_dir)) == 2  # the fine one and its thumbnail


async def test_with_a_flag_policy_contact_details_are_kept_for_review(
    market: Marketplace, app: FastAPI
) -> None:
    ctx = app.state.ctx
    ctx.attachments.contact_scanner = fake_shield
    ctx.settings = ctx.settings.model_copy(update={"attachment_contact_policy": "flag"})
    user = await market.user()
    response = await upload(user, files.image_bytes("PNG"), "jane@example.com.png")
    assert response.status_code == 201
    async with ctx.db.read_sessions() as session:
        row = await session.get(Attachment, response.json()["id"])
    assert row is not None and row.flagged_findings is not None
    assert json.loads(row.flagged_findings)[0]["kind"] == "email"


async def test_without_an_ocr_engine_the_text_scan_is_skipped_and_said_so(
    market: Marketplace,
) -> None:
    user = await market.user()
    photo = await upload(user, files.text_image("call 415 555 0199"), "card.png", "image/png")
    assert photo.json()["text_scan"] == "skipped"
    receipt = await upload(user, files.pdf(), "r.pdf", "application/pdf")
    assert receipt.json()["text_scan"] == "not_applicable"
