"""Text in images, read with tesseract where it is installed, goes through the contact shield."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.attachments import files
from tests.attachments.conftest import stored_files, upload
from tests.attachments.test_uploads import fake_shield
from tests.conftest import IN_CI
from tests.fixtures.marketplace import Marketplace
from tradetalk.config import Settings

# Under CI the tier must run: .ci/run installs tesseract, and a missing one fails the test.
pytestmark = pytest.mark.skipif(
    shutil.which("tesseract") is None and not IN_CI,
    reason="tesseract is not installed (Debian: tesseract-ocr); OCR is optional and "
    "test_uploads.py covers the server without it",
)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"media_dir": tmp_path / "media", "ocr": True})


async def test_a_photographed_business_card_is_caught(
    market: Marketplace, app: FastAPI, settings: Settings
) -> None:
    app.state.ctx.attachments.contact_scanner = fake_shield
    user = await market.user()
    card = await upload(user, files.text_image("Call 415 555 0199"), "card.png", "image/png")
    assert card.status_code == 422, card.text
    problem = card.json()
    assert problem["code"] == "contact_info_blocked"
    assert [(f["kind"], f["source"]) for f in problem["findings"]] == [("phone", "image_text")]
    assert stored_files(settings.media_dir) == []

    label = await upload(user, files.text_image("Size 42 - like new"), "label.png", "image/png")
    assert label.status_code == 201
    assert label.json()["text_scan"] == "done"
