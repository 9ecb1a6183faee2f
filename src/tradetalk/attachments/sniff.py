"""What a file is, decided by its content (magic bytes), never by its name or declared type."""

from __future__ import annotations

import codecs
import enum
import re
from typing import IO

import puremagic

from tradetalk.errors import DomainError

HEAD_BYTES = 8192


class UnsupportedAttachmentType(DomainError):
    status = 415
    code = "unsupported_attachment_type"
    title = "This kind of file is not accepted"


class AttachmentUnreadable(DomainError):
    status = 422
    code = "attachment_unreadable"
    title = "The file is damaged or not what it appears to be"


class AttachmentEmpty(AttachmentUnreadable):
    code = "attachment_empty"
    title = "The file is empty"


class FileKind(enum.StrEnum):
    """The kinds of file accepted, by the content type they arrive as."""

    JPEG = "image/jpeg"
    PNG = "image/png"
    WEBP = "image/webp"
    GIF = "image/gif"
    HEIC = "image/heic"
    PDF = "application/pdf"
    TEXT = "text/plain"

    @property
    def is_image(self) -> bool:
        return self.value.startswith("image/")


ACCEPTED = "JPEG, PNG, WebP, GIF (still), HEIC, PDF or plain UTF-8 text"

_BY_MIME = {
    "image/jpeg": FileKind.JPEG,
    "image/png": FileKind.PNG,
    "image/webp": FileKind.WEBP,
    "image/gif": FileKind.GIF,
    "image/heic": FileKind.HEIC,
    "image/heif": FileKind.HEIC,
    "application/pdf": FileKind.PDF,
}

# ISO-BMFF brands of HEIF stills from cameras and phones (AVIF and video brands are not here).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}

# The WHATWG MIME sniffing patterns that make a browser treat a resource as HTML, plus SVG and
# XML: such "text" is refused even though it is served as text/plain with nosniff.
_MARKUP = re.compile(
    rb"^\s*<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body"
    rb"|br|p|!--|\?xml|svg|object|embed|meta|link|img|form)(?:[\s>/]|$)",
    re.IGNORECASE,
)
# Tab, line feed, form feed and carriage return are the only control characters plain text needs.
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# Puremagic's guesses ("mime extension" text) to a reason a person understands; first match wins.
_DESCRIBED = (
    (
        ("zip", "rar", "7z", "tar", "gzip", "compressed", "officedocument", "msword"),
        "archives and office files are not accepted",
    ),
    (("video/", "mp4", "quicktime"), "videos are not accepted"),
    (("svg",), "SVG images are not accepted (they can carry scripts)"),
    (("text/html", "/xml", "xhtml"), "web pages and markup are not accepted"),
    (
        ("executable", "x-msdownload", "x-elf", "mach", "x-sharedlib", "appimage", ".exe", ".dll"),
        "programs are not accepted",
    ),
)


def _ftyp_brand(head: bytes) -> bytes | None:
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return head[8:12]
    return None


def _guesses(head: bytes) -> list[tuple[str, str, float]]:
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    return [(m.mime_type or "", m.extension or "", float(m.confidence)) for m in matches]


def _as_text(head: bytes, *, complete: bool) -> str | None:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        return None
    return None if _TEXT_CONTROLS.search(text) else text


def _refusal(guesses: list[tuple[str, str, float]], head: bytes) -> UnsupportedAttachmentType:
    if _MARKUP.match(head):
        lowered = head[:512].lower()
        reason = (
            "SVG images are not accepted (they can carry scripts)"
            if b"<svg" in lowered
            else "web pages and markup are not accepted"
        )
        return UnsupportedAttachmentType(f"This file is markup: {reason}. We accept {ACCEPTED}.")
    if (
        head[:4] == b"\x7fELF"
        or head[:2] == b"MZ"
        or head[:4] in (b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")
    ):
        return UnsupportedAttachmentType(f"Programs are not accepted. We accept {ACCEPTED}.")
    described = " ".join(f"{mime} {ext}" for mime, ext, _ in guesses).lower()
    for needles, reason in _DESCRIBED:
        if any(needle in described for needle in needles):
            return UnsupportedAttachmentType(f"{reason.capitalize()}. We accept {ACCEPTED}.")
    return UnsupportedAttachmentType(f"This kind of file is not accepted. We accept {ACCEPTED}.")


def detect(head: bytes, *, complete: bool) -> FileKind:
    """The kind of a file from its first bytes (`complete` when `head` is the whole file);
    raise UnsupportedAttachmentType for anything not accepted."""
    if not head:
        raise AttachmentEmpty("The file has no content.")
    brand = _ftyp_brand(head)
    if brand is not None:
        if brand in _HEIF_BRANDS:
            return FileKind.HEIC
        raise _refusal([("video/mp4", ".mp4", 1.0)], head)
    guesses = _guesses(head)
    if guesses:
        # Only the most confident tier counts: a weaker second guess must not let a file in.
        best = max(confidence for _, _, confidence in guesses)
        for mime, _, confidence in guesses:
            if confidence >= best - 1e-9 and mime in _BY_MIME:
                return _BY_MIME[mime]
    if not _MARKUP.match(head) and _as_text(head, complete=complete) is not None:
        return FileKind.TEXT
    raise _refusal(guesses, head)


def read_head(file: IO[bytes], size: int) -> bytes:
    """The first bytes of a file, for detection; the file is rewound."""
    file.seek(0)
    head = file.read(min(size, HEAD_BYTES))
    file.seek(0)
    return head


def check_text(file: IO[bytes], *, keep_chars: int) -> str:
    """Validate a whole plain-text file (UTF-8, no control characters); return its first
    `keep_chars` characters, for the contact shield."""
    file.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    kept: list[str] = []
    kept_chars = 0
    try:
        while chunk := file.read(64 * 1024):
            text = decoder.decode(chunk)
            if _TEXT_CONTROLS.search(text):
                raise UnsupportedAttachmentType(
                    f"This file is not plain text (it holds control characters). "
                    f"We accept {ACCEPTED}."
                )
            if kept_chars < keep_chars:
                kept.append(text[: keep_chars - kept_chars])
                kept_chars += len(kept[-1])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UnsupportedAttachmentType(
            f"Text files must be UTF-8 encoded. We accept {ACCEPTED}."
        ) from None
    finally:
        file.seek(0)
    return "".join(kept)
