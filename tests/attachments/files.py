"""Files for attachment tests, made on the spot: good ones of each kind, and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), colour: str = "teal") -> bytes:
    """A plain image of `size` in a Pillow format (JPEG, PNG, WEBP, GIF, HEIF)."""
    mode = "P" if fmt == "GIF" else "RGB"
    image = Image.new("RGB", size, colour)
    if mode == "P":
        image = image.convert("P")
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    """EXIF naming the camera, the photographer and where the photo was taken."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x013B] = "Jane Seller"  # Artist
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update(
        {
            1: "N",  # GPSLatitudeRef
            2: (37.0, 46.0, 29.7),  # GPSLatitude
            3: "W",
            4: (122.0, 25.0, 9.8),
        }
    )
    return exif


def jpeg_with_gps(size: tuple[int, int] = (80, 40), orientation: int = 1) -> bytes:
    """A JPEG carrying GPS coordinates, an artist, an orientation tag and a comment."""
    image = Image.new("RGB", size, "orange")
    # A marker in the top-left corner, to check that the orientation was applied.
    ImageDraw.Draw(image).rectangle((0, 0, 9, 9), fill="blue")
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif_with_gps(orientation), comment=b"shot at 12 Main St")
    return out.getvalue()


def png_with_text_chunks() -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Location", "12 Main Street, Springfield")
    info.add_text("Author", "Jane Seller")
    out = io.BytesIO()
    Image.new("RGBA", (30, 30), (255, 0, 0, 128)).save(
        out, "PNG", pnginfo=info, exif=exif_with_gps()
    )
    return out.getvalue()


def heic_with_gps() -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "purple").save(out, "HEIF", exif=exif_with_gps().tobytes())
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def text_image(text: str) -> bytes:
    """A PNG showing `text` large and clear, like a photographed business card."""
    image = Image.new("RGB", (1200, 220), "white")
    font = ImageFont.load_default(size=64)
    ImageDraw.Draw(image).text((40, 60), text, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares a huge canvas (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # A few rows of zeros compress to almost nothing; the rest would be decompressed on load.
    data = zlib.compress(b"\x00" * (width * 3 + 1) * 4, 9)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def pdf(
    *,
    javascript: bool = False,
    launch: bool = False,
    embedded: bool = False,
    open_action_js: bool = False,
    page_aa: bool = False,
) -> bytes:
    """A one-page PDF receipt, optionally with some active content."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if embedded:
        writer.add_attachment("invoice.exe", b"MZ\x90\x00payload")
    root = writer._root_object
    if javascript:  # document-level script, in the catalog's /Names /JavaScript tree
        script = DictionaryObject(
            {
                NameObject("/S"): NameObject("/JavaScript"),
                NameObject("/JS"): TextStringObject("app.alert('hi');"),
            }
        )
        names = ArrayObject([TextStringObject("hello"), writer._add_object(script)])
        root[NameObject("/Names")] = DictionaryObject(
            {NameObject("/JavaScript"): DictionaryObject({NameObject("/Names"): names})}
        )
    if launch:
        action = DictionaryObject(
            {
                NameObject("/S"): NameObject("/Launch"),
                NameObject("/F"): TextStringObject("calc.exe"),
            }
        )
        root[NameObject("/OpenAction")] = writer._add_object(action)
    if open_action_js:
        action = DictionaryObject(
            {
                NameObject("/S"): NameObject("/JavaScript"),
                NameObject("/JS"): TextStringObject("app.alert(1)"),
            }
        )
        root[NameObject("/OpenAction")] = action
    if page_aa:
        page = writer.pages[0]
        page[NameObject("/AA")] = DictionaryObject(
            {NameObject("/O"): DictionaryObject({NameObject("/S"): NameObject("/URI")})}
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_hidden_js() -> bytes:
    """JavaScript in an unreferenced object, its name hex-escaped (/J#61vaScript)."""
    body = (
        b"%PDF-1.4\n"
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] >> endobj\n"
        b"4 0 obj << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >> endobj\n"
    )
    offsets = [body.index(b"%d 0 obj" % number) for number in range(1, 5)]
    xref_at = len(body)
    xref = b"xref\n0 5\n0000000000 65535 f \n" + b"".join(
        b"%010d 00000 n \n" % offset for offset in offsets
    )
    trailer = b"trailer << /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return body + xref + trailer


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)
SVG_BARE = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'
HTML = b"<!DOCTYPE html><html><body><script>fetch('/v1/conversations')</script></body></html>"
HTML_LOWER = b"  \n<html><body>hello</body></html>"
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40


def zip_file() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photo.jpg", b"not really")
    return out.getvalue()
