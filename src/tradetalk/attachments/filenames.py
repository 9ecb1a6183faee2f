"""Display names of uploads: what the uploader called the file, made harmless to show and save."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from tradetalk.attachments.sniff import FileKind

MAX_NAME_CHARS = 150

EXTENSIONS: dict[FileKind, tuple[str, ...]] = {
    FileKind.JPEG: (".jpg", ".jpeg", ".jpe", ".jfif"),
    FileKind.PNG: (".png",),
    FileKind.WEBP: (".webp",),
    FileKind.GIF: (".gif",),
    FileKind.HEIC: (".heic", ".heif"),
    FileKind.PDF: (".pdf",),
    FileKind.TEXT: (".txt", ".text", ".log", ".csv", ".md"),
}
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}$")
# Control, format (bidi overrides such as U+202E that make "gpj.exe" read as "exe.jpg"),
# line and paragraph separators, surrogates and unassigned code points.
_DROPPED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def display_name(raw: str | None, kind: FileKind) -> str:
    """A name safe to show and to save as: no folders, no control or bidi characters,
    NFC-normalised, at most MAX_NAME_CHARS, ending in an extension that matches the content."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]  # a browser may send a full Windows or Unix path
    name = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    name = re.sub(r"\s+", " ", name).strip().strip(".").strip()
    for reserved in ('"', "*", ":", "<", ">", "?", "|"):  # not allowed in Windows file names
        name = name.replace(reserved, "_")
    suffix_match = _SUFFIX.search(name)
    stem = name[: suffix_match.start()] if suffix_match else name
    suffix = suffix_match.group(0).lower() if suffix_match else ""
    if suffix not in EXTENSIONS[kind]:
        suffix = EXTENSIONS[kind][0]
    stem = stem.strip().strip(".") or "attachment"
    return stem[: MAX_NAME_CHARS - len(suffix)].rstrip() + suffix


def content_disposition(name: str, *, inline: bool) -> str:
    """The Content-Disposition header: an ASCII fallback plus the UTF-8 name (RFC 6266, 5987)."""
    fallback = "".join(ch if 0x20 < ord(ch) < 0x7F and ch not in '"\\%;' else "_" for ch in name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
