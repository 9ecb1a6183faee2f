"""Where attachment bytes live: a local folder (default) or any S3-compatible object store."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any, Protocol

from tradetalk.config import Settings

CHUNK_BYTES = 64 * 1024
# Keys are made by us (random hex), never from user input; anything else is a bug.
_KEY = re.compile(r"^[0-9a-f]{32}(?:\.thumb)?$")


class ObjectMissing(LookupError):
    """The storage has no object under this key."""


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(Protocol):
    """Bytes by key. Keys are random, so objects are written once and never overwritten."""

    async def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        """Store an object (a file object is read from its current position)."""

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, in chunks; raise ObjectMissing (before any byte) when absent."""

    async def delete(self, key: str) -> None:
        """Remove an object; no error when it is already gone."""

    async def close(self) -> None:
        """Release connections."""


async def _chunks(handle: Any) -> AsyncIterator[bytes]:
    """Read a blocking file-like object in a worker thread, chunk by chunk, then close it."""
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


class LocalStorage:
    """Objects as files under one folder (`TRADETALK_MEDIA_DIR`), two levels of fan-out."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        key = _checked(key)
        return self.root / key[:2] / key[2:4] / key

    def _write(self, key: str, data: bytes | IO[bytes]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes):
                    out.write(data)
                else:
                    while chunk := data.read(CHUNK_BYTES):
                        out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError:
            raise ObjectMissing(key) from None
        return _chunks(handle)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def close(self) -> None:
        return None


class S3Storage:
    """Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...) through boto3.

    boto3 is synchronous; each call runs in a worker thread. Its client is thread-safe."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "attachments/",
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                signature_version="s3v4",
                # Self-hosted stores (MinIO and friends) rarely have wildcard DNS for buckets.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def _name(self, key: str) -> str:
        return self.prefix + _checked(key)

    async def put(self, key: str, data: bytes | IO[bytes], content_type: str) -> None:
        body: Any = data
        if isinstance(data, bytes):
            await asyncio.to_thread(
                self._client.put_object,
                Bucket=self.bucket,
                Key=self._name(key),
                Body=body,
                ContentType=content_type,
            )
        else:
            await asyncio.to_thread(
                self._client.upload_fileobj,
                body,
                self.bucket,
                self._name(key),
                ExtraArgs={"ContentType": content_type},
            )

    async def open(self, key: str) -> AsyncIterator[bytes]:
        try:
            response = await asyncio.to_thread(
                self._client.get_object, Bucket=self.bucket, Key=self._name(key)
            )
        except self._client.exceptions.NoSuchKey:
            raise ObjectMissing(key) from None
        return _chunks(response["Body"])

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self._name(key))

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)


def build_storage(settings: Settings) -> Storage:
    """S3 when a bucket is configured, the local media folder otherwise."""
    if settings.s3_bucket:
        secret = settings.s3_secret_access_key
        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
        )
    return LocalStorage(settings.media_dir)
