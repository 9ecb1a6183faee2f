"""Text in images, read by the `tesseract` program where it is installed (Debian: tesseract-ocr)."""

from __future__ import annotations

import asyncio
import shutil

import structlog

log = structlog.get_logger("tradetalk.attachments")

TIMEOUT_SECONDS = 30.0


class TesseractReader:
    """Runs `tesseract` on a PNG given on stdin, at most `concurrency` at a time (CPU-heavy)."""

    def __init__(self, executable: str, *, languages: str = "eng", concurrency: int = 1) -> None:
        self.executable = executable
        self.languages = languages
        self._slots = asyncio.Semaphore(concurrency)

    async def read(self, png: bytes) -> str | None:
        """The text tesseract finds in the image; None when it failed (logged, never raised:
        a failed OCR must not stop an upload)."""
        async with self._slots:
            process = await asyncio.create_subprocess_exec(
                self.executable,
                "stdin",
                "stdout",
                "-l",
                self.languages,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(process.communicate(png), TIMEOUT_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
                log.warning("ocr timed out", seconds=TIMEOUT_SECONDS)
                return None
        if process.returncode != 0:
            log.warning(
                "ocr failed",
                returncode=process.returncode,
                stderr=err[-500:].decode("utf-8", "replace"),
            )
            return None
        return out.decode("utf-8", "replace")


def find_reader(enabled: bool, languages: str) -> TesseractReader | None:
    """A reader when OCR is enabled and `tesseract` is on PATH; None (and a log line) otherwise."""
    if not enabled:
        log.info("OCR skipped: turned off (TRADETALK_OCR=false)")
        return None
    executable = shutil.which("tesseract")
    if executable is None:
        log.info("OCR skipped: tesseract not installed")
        return None
    log.info("OCR enabled: text in images is read", tesseract=executable, languages=languages)
    return TesseractReader(executable, languages=languages)
