"""Helpers for attachment tests over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.fixtures.marketplace import TestUser


async def upload(
    user: TestUser | httpx.AsyncClient,
    data: bytes,
    filename: str = "photo.jpg",
    declared: str = "image/jpeg",
) -> httpx.Response:
    """POST a file to /v1/attachments as a browser would (multipart field `file`)."""
    client = user if isinstance(user, httpx.AsyncClient) else user.client
    return await client.post("/v1/attachments", files={"file": (filename, data, declared)})


def stored_files(media_dir: Path) -> list[Path]:
    """Every object the local storage holds."""
    return [p for p in media_dir.rglob("*") if p.is_file()] if media_dir.exists() else []
