"""What a file is and how it is cleaned, without a server: sniffing, images, PDFs, names."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.attachments import files
from tradetalk.attachments import images, pdf, sniff
from tradetalk.attachments.filenames import content_disposition, display_name
from tradetalk.attachments.sniff import FileKind


def detect(data: bytes) -> FileKind:
    return sniff.detect(data[: sniff.HEAD_BYTES], complete=len(data) <= sniff.HEAD_BYTES)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (files.image_bytes("JPEG"), FileKind.JPEG),
        (files.image_bytes("PNG"), FileKind.PNG),
        (files.image_bytes("WEBP"), FileKind.WEBP),
        (files.image_bytes("GIF"), FileKind.GIF),
        (files.heic_with_gps(), FileKind.HEIC),
        (files.pdf(), FileKind.PDF),
        ("Tracking 1Z999AA10123456784, posted Monday. Größe 42 €\n".encode(), FileKind.TEXT),
    ],
)
def test_accepted_kinds_are_recognised_by_content(data: bytes, kind: FileKind) -> None:
    assert detect(data) is kind


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (files.SVG_WITH_SCRIPT, "SVG"),
        (files.SVG_BARE, "SVG"),
        (files.HTML, "markup"),
        (files.HTML_LOWER, "markup"),
        (files.ELF, "Programs"),
        (files.PE, "Programs"),
        (files.zip_file(), "rchives"),
        (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 20, "Videos"),
        (b"caf\xe9 au lait", "UTF-8"),  # Latin-1, not UTF-8
    ],
)
def test_everything_else_is_refused_with_a_reason(data: bytes, says: str) -> None:
    with pytest.raises(sniff.UnsupportedAttachmentType) as refused:
        detect(data)
        sniff.check_text(io.BytesIO(data), keep_chars=100)
    assert says in refused.value.detail
    assert refused.value.status == 415


def test_text_with_control_characters_past_the_head_is_refused() -> None:
    data = b"line\n" * 5000 + b"\x1b[31mred"
    assert detect(data) is FileKind.TEXT  # the head looks fine...
    with pytest.raises(sniff.UnsupportedAttachmentType):
        sniff.check_text(io.BytesIO(data), keep_chars=100)  # ...the whole file does not


def _sanitised(data: bytes, kind: FileKind, max_pixels: int = 10_000_000) -> images.CleanImage:
    return images.sanitise(io.BytesIO(data), kind, max_pixels=max_pixels)


def test_jpeg_loses_gps_and_every_other_metadata_and_is_turned_upright() -> None:
    original = files.jpeg_with_gps(size=(80, 40), orientation=6)  # "rotate 90° clockwise"
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(files.GPS_IFD)  # the test file really has GPS
    clean = _sanitised(original, FileKind.JPEG)
    with Image.open(io.BytesIO(clean.data)) as after:
        assert after.format == "JPEG"
        assert not after.getexif()
        assert not after.getexif().get_ifd(files.GPS_IFD)
        assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & set(after.info)
        assert after.size == (40, 80)  # orientation applied, pixels rotated
        assert (clean.width, clean.height) == (40, 80)
        # The blue marker was top-left; rotated clockwise it is now top-right.
        red, _green, blue = after.convert("RGB").getpixel((35, 3))  # type: ignore[misc]
        assert blue > 150 and red < 100
    for needle in (b"Exif", b"GPS", b"Jane Seller", b"Main St", b"PhoneMaker"):
        assert needle not in clean.data


def test_png_text_chunks_and_exif_are_dropped_and_transparency_kept() -> None:
    clean = _sanitised(files.png_with_text_chunks(), FileKind.PNG)
    with Image.open(io.BytesIO(clean.data)) as after:
        assert not after.getexif()
        assert "Location" not in after.info and "Author" not in after.info
        assert after.mode == "RGBA"
    assert b"Springfield" not in clean.data and b"eXIf" not in clean.data


def test_heic_becomes_a_jpeg_without_metadata() -> None:
    clean = _sanitised(files.heic_with_gps(), FileKind.HEIC)
    assert clean.kind is FileKind.JPEG
    with Image.open(io.BytesIO(clean.data)) as after:
        assert after.format == "JPEG" and not after.getexif()


def test_thumbnail_is_small_webp() -> None:
    clean = _sanitised(files.image_bytes("PNG", size=(1600, 900)), FileKind.PNG)
    with Image.open(io.BytesIO(clean.thumbnail)) as thumb:
        assert thumb.format == "WEBP"
        assert max(thumb.size) <= 320


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = files.png_bomb()
    assert len(bomb) < 5000
    with pytest.raises(images.ImageTooLarge):
        _sanitised(bomb, FileKind.PNG)
    with pytest.raises(images.ImageTooLarge):  # also under our own, lower limit
        _sanitised(files.png_bomb(4000, 3000), FileKind.PNG, max_pixels=10_000_000)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (files.jpeg_with_gps()[:300], FileKind.JPEG),  # truncated
        (files.image_bytes("PNG", size=(300, 300))[:200], FileKind.PNG),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, FileKind.JPEG),  # a header and nothing else
    ],
)
def test_damaged_images_are_refused(data: bytes, kind: FileKind) -> None:
    with pytest.raises(sniff.AttachmentUnreadable):
        _sanitised(data, kind)


def test_animated_gif_is_refused() -> None:
    with pytest.raises(sniff.UnsupportedAttachmentType, match="Animated"):
        _sanitised(files.animated_gif(), FileKind.GIF)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"javascript": True}, "JavaScript"),
        ({"open_action_js": True}, "JavaScript"),
        ({"launch": True}, "launch"),
        ({"embedded": True}, "embedded"),
        ({"page_aa": True}, "automatic"),
    ],
)
def test_pdfs_with_active_content_are_refused(options: dict[str, bool], reason: str) -> None:
    with pytest.raises(pdf.UnsafeDocument, match=reason):
        pdf.check(io.BytesIO(files.pdf(**options)))


def test_pdf_javascript_is_found_even_hidden_and_escaped() -> None:
    with pytest.raises(pdf.UnsafeDocument, match="JavaScript"):
        pdf.check(io.BytesIO(files.pdf_with_hidden_js()))


def test_plain_pdf_passes_and_garbage_pdf_is_unreadable() -> None:
    pdf.check(io.BytesIO(files.pdf()))
    with pytest.raises(sniff.AttachmentUnreadable):
        pdf.check(io.BytesIO(b"%PDF-1.7\n" + b"\x00garbage" * 50))


@pytest.mark.parametrize(
    ("raw", "kind", "shown"),
    [
        ("../../etc/passwd", FileKind.TEXT, "passwd.txt"),
        ("C:\\Users\\jane\\Desktop\\receipt.pdf", FileKind.PDF, "receipt.pdf"),
        ("photo\u202egpj.exe", FileKind.JPEG, "photogpj.jpg"),  # bidi override dropped
        ("bad\x00name\x1b[31m.png", FileKind.PNG, "badname[31m.png"),
        ("line\nbreak.png", FileKind.PNG, "line break.png"),
        ("invoice.pdf.exe", FileKind.PDF, "invoice.pdf.pdf"),
        ("IMG_0001.HEIC", FileKind.JPEG, "IMG_0001.jpg"),
        ("Cafe\u0301.JPG", FileKind.JPEG, "Caf\u00e9.jpg"),  # NFC
        ("...", FileKind.PNG, "attachment.png"),
        (None, FileKind.PDF, "attachment.pdf"),
        ('a"b<c>.png', FileKind.PNG, "a_b_c_.png"),
    ],
)
def test_display_names_are_harmless(raw: str | None, kind: FileKind, shown: str) -> None:
    assert display_name(raw, kind) == shown


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = display_name("x" * 1000 + ".pdf", FileKind.PDF)
    assert len(name) == 150 and name.endswith(".pdf")


def test_content_disposition_has_ascii_fallback_and_utf8_name() -> None:
    header = content_disposition('Quittung "März".pdf', inline=False)
    assert header.startswith('attachment; filename="Quittung__M_rz_.pdf"')
    assert "filename*=UTF-8''Quittung%20%22M%C3%A4rz%22.pdf" in header


def _encrypted_pdf(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(files.pdf())))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdfs_are_checked_when_they_open_without_a_password() -> None:
    pdf.check(io.BytesIO(_encrypted_pdf("")))  # print-restricted receipts are common
    with pytest.raises(pdf.UnsafeDocument, match="Password"):
        pdf.check(io.BytesIO(_encrypted_pdf("secret")))
