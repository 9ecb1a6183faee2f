"""Both storage backends: a local folder and an S3-compatible store (moto's server, on loopback)."""

from __future__ import annotations

import io
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from moto.server import ThreadedMotoServer
from PIL import Image
from pydantic import SecretStr

from tests.attachments import files
from tests.attachments.conftest import stored_files, upload
from tests.fixtures.marketplace import Marketplace
from tradetalk.attachments.service import purge_unclaimed
from tradetalk.attachments.storage import LocalStorage, ObjectMissing, S3Storage, Storage
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock

REGION = "us-east-1"
KEYS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto) on a free loopback port, stopped afterwards."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"  # type: ignore[union-attr]
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"tradetalk-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, **KEYS).create_bucket(
        Bucket=name
    )
    return name


def bucket_keys(s3_endpoint: str, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION, **KEYS)
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    backend: Storage
    if request.param == "local":
        backend = LocalStorage(tmp_path / "media")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        backend = S3Storage(
            request.getfixturevalue("bucket"),
            endpoint_url=endpoint,
            region=REGION,
            access_key_id=KEYS["aws_access_key_id"],
            secret_access_key=KEYS["aws_secret_access_key"],
        )
    yield backend
    await backend.close()


async def _read(storage: Storage, key: str) -> bytes:
    return b"".join([chunk async for chunk in await storage.open(key)])


async def test_storage_keeps_bytes_and_forgets_them(storage: Storage) -> None:
    small, large = secrets.token_hex(16), secrets.token_hex(16)
    payload = secrets.token_bytes(300_000)  # several chunks
    await storage.put(small, b"receipt", "text/plain")
    await storage.put(large, io.BytesIO(payload), "application/pdf")
    await storage.put(f"{small}.thumb", b"thumb", "image/webp")
    assert await _read(storage, small) == b"receipt"
    assert await _read(storage, large) == payload
    assert await _read(storage, f"{small}.thumb") == b"thumb"
    await storage.delete(small)
    await storage.delete(small)  # already gone: no error
    with pytest.raises(ObjectMissing):
        await storage.open(small)
    assert await _read(storage, large) == payload


async def test_storage_refuses_keys_it_did_not_make(storage: Storage) -> None:
    for key in ("../../etc/passwd", "photo.jpg", "A" * 32, ""):
        with pytest.raises(ValueError):
            await storage.put(key, b"x", "text/plain")


class TestThroughTheAppOnS3:
    """The whole path with TRADETALK_S3_* settings, on both databases."""

    @pytest.fixture
    def settings(
        self, settings: Settings, s3_endpoint: str, bucket: str, tmp_path: Path
    ) -> Settings:
        update: dict[str, Any] = {
            "media_dir": tmp_path / "media",
            "s3_bucket": bucket,
            "s3_endpoint_url": s3_endpoint,
            "s3_region": REGION,
            "s3_access_key_id": KEYS["aws_access_key_id"],
            "s3_secret_access_key": SecretStr(KEYS["aws_secret_access_key"]),
            "ocr": False,
        }
        return settings.model_copy(update=update)

    async def test_photos_and_receipts_live_in_the_bucket(
        self,
        market: Marketplace,
        app: FastAPI,
        settings: Settings,
        s3_endpoint: str,
        bucket: str,
        clock: ManualClock,
    ) -> None:
        assert isinstance(app.state.ctx.attachments.storage, S3Storage)
        deal = await market.transaction()
        outsider = await market.user()
        cid = await market.conversation_id(deal)
        photo = (await upload(deal.seller, files.jpeg_with_gps())).json()
        receipt = (await upload(deal.seller, files.pdf(), "receipt.pdf")).json()
        forgotten = (await upload(deal.seller, files.image_bytes("PNG"))).json()
        await market.send(deal.seller, cid, "", attachment_ids=[photo["id"], receipt["id"]])
        keys = bucket_keys(s3_endpoint, bucket)
        assert len(keys) == 5  # three files, two thumbnails
        assert all(k.startswith("attachments/") for k in keys)
        assert stored_files(settings.media_dir) == []

        image = await deal.buyer.client.get(photo["url"])
        assert image.status_code == 200 and image.headers["x-content-type-options"] == "nosniff"
        with Image.open(io.BytesIO(image.content)) as opened:
            assert not opened.getexif().get_ifd(files.GPS_IFD)
        assert (await deal.buyer.client.get(receipt["url"])).content == files.pdf()
        assert (await deal.buyer.client.get(photo["thumbnail_url"])).status_code == 200
        assert (await outsider.client.get(photo["url"])).status_code == 404

        clock.advance(timedelta(days=2))
        assert await purge_unclaimed(app.state.ctx, timedelta(hours=24)) == 1
        assert len(bucket_keys(s3_endpoint, bucket)) == 3
        await market.refresh(deal.seller)
        assert (await deal.seller.client.get(forgotten["url"])).status_code == 404
