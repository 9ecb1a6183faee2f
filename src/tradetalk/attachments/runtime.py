"""What attachments share in a running app: storage, OCR, the contact-shield hook, cleanup."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

from tradetalk.attachments.ocr import TesseractReader, find_reader
from tradetalk.attachments.service import purge_unclaimed
from tradetalk.attachments.storage import Storage, build_storage
from tradetalk.config import Settings

if TYPE_CHECKING:
    from tradetalk.context import AppContext

log = structlog.get_logger("tradetalk.attachments")


class ContactFinding(Protocol):
    """A piece of contact information found in a text (the shield's Finding fits this)."""

    @property
    def kind(self) -> str: ...

    @property
    def text(self) -> str: ...


# Given a text (a file name, the text read from an image, a text file), the contact details in
# it. None: no shield (the default until the protection package is plugged in).
ContactScanner = Callable[[str], Sequence[ContactFinding]]


@dataclass
class AttachmentRuntime:
    """Storage backend, OCR reader (None without tesseract) and contact scanner (None: off)."""

    storage: Storage
    ocr: TesseractReader | None
    contact_scanner: ContactScanner | None = None
    # Decoding a large photo takes a few hundred MB and a core: at most two at a time.
    processing: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    _purger: asyncio.Task[None] | None = None

    @classmethod
    def build(
        cls, settings: Settings, *, contact_scanner: ContactScanner | None = None
    ) -> AttachmentRuntime:
        """Storage and OCR for these settings."""
        return cls(
            storage=build_storage(settings),
            ocr=find_reader(settings.ocr, settings.ocr_languages),
            contact_scanner=contact_scanner,
        )

    async def start(self, ctx: AppContext) -> None:
        """Start the periodic cleanup of uploads no message claimed."""
        self._purger = asyncio.create_task(_purge_periodically(ctx), name="attachments-purge")

    async def close(self) -> None:
        """Stop the cleanup and release the storage client."""
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
            self._purger = None
        await self.storage.close()


async def _purge_periodically(ctx: AppContext) -> None:
    settings = ctx.settings
    while True:
        await asyncio.sleep(settings.attachment_purge_interval_seconds)
        try:
            await purge_unclaimed(ctx, timedelta(seconds=settings.unclaimed_attachment_ttl_seconds))
        except Exception:  # a failed round is retried at the next one
            log.exception("purging unclaimed attachments failed")
