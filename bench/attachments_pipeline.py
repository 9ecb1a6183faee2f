"""How long the attachment checks take per file, on this machine (prints JSON).

    PYTHONPATH=src python bench/attachments_pipeline.py [--rounds 5]

A 12-megapixel phone photo (JPEG with EXIF/GPS), a 2-megapixel PNG screenshot, a one-page PDF:
sniffing, sanitising (decode, orient, re-encode, thumbnail) and the PDF scan; OCR when tesseract
is installed. Medians in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import shutil
import statistics
import time
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw

from tradetalk.attachments import images, pdf, sniff
from tradetalk.attachments.ocr import TesseractReader
from tradetalk.attachments.sniff import FileKind


def _photo(size: tuple[int, int]) -> bytes:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 64):  # some detail, so the encoder has work to do
        draw.line((x, 0, size[0] - x, size[1]), fill=(x % 255, 80, 160), width=9)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 46.0, 29.7)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, "PNG")
    return out.getvalue()


def _pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _median_ms(action: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    photo, screenshot, document = _photo((4032, 3024)), _png((1920, 1080)), _pdf()
    result: dict[str, Any] = {"rounds": rounds, "files": {}}
    for name, data, kind in (
        ("photo_12mp_jpeg", photo, FileKind.JPEG),
        ("screenshot_2mp_png", screenshot, FileKind.PNG),
    ):
        clean = images.sanitise(io.BytesIO(data), kind, max_pixels=50_000_000)
        result["files"][name] = {
            "bytes_in": len(data),
            "bytes_out": len(clean.data),
            "thumbnail_bytes": len(clean.thumbnail),
            "sniff_ms": _median_ms(lambda d=data: sniff.detect(d[:8192], complete=False), rounds),
            "sanitise_ms": _median_ms(
                lambda d=data, k=kind: images.sanitise(io.BytesIO(d), k, max_pixels=50_000_000),
                rounds,
            ),
        }
        if shutil.which("tesseract"):
            reader = TesseractReader(shutil.which("tesseract") or "tesseract")
            result["files"][name]["ocr_ms"] = _median_ms(
                lambda c=clean, r=reader: asyncio.run(r.read(c.ocr_png)), max(1, rounds // 2)
            )
    result["files"]["receipt_pdf"] = {
        "bytes_in": len(document),
        "pdf_check_ms": _median_ms(lambda: pdf.check(io.BytesIO(document)), rounds),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
