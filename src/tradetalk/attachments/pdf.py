"""PDFs: accepted only when they carry no active content (scripts, launch actions, files)."""

from __future__ import annotations

import logging
from typing import IO, Any

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from tradetalk.attachments.sniff import AttachmentUnreadable
from tradetalk.errors import DomainError

# Keys whose mere presence means the document can run code, open other files or programs,
# carry files inside, or act on its own when opened or viewed.
_ACTIVE_KEYS = {
    "/JS": "JavaScript",
    "/JavaScript": "JavaScript",
    "/Launch": "a launch action",
    "/EmbeddedFiles": "embedded files",
    "/EmbeddedFile": "an embedded file",
    "/AA": "automatic actions",
    "/RichMedia": "rich media",
    "/XFA": "an XFA form",
}
# Action types (/S) that run code, start programs, submit data or jump into embedded files.
_ACTIVE_ACTIONS = {
    "/JavaScript": "JavaScript",
    "/Launch": "a launch action",
    "/ImportData": "an import action",
    "/SubmitForm": "a form that submits data",
    "/GoToE": "a link into an embedded file",
    "/RichMediaExecute": "rich media",
    "/Rendition": "a media action",
}
_MAX_OBJECTS = 200_000

# pypdf logs every oddity it repairs in real-world PDFs at WARNING; they are not our errors.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class UnsafeDocument(DomainError):
    status = 422
    code = "attachment_unsafe"
    title = "The document carries active content"


def _problem_in(obj: Any) -> str | None:
    if isinstance(obj, DictionaryObject):
        for key in obj:
            if key in _ACTIVE_KEYS:
                return _ACTIVE_KEYS[key]
        action = obj.get("/S")
        if isinstance(action, NameObject) and action in _ACTIVE_ACTIONS:
            return _ACTIVE_ACTIONS[action]
        opened = obj.get("/OpenAction")
        if isinstance(opened, IndirectObject):
            opened = opened.get_object()
        if isinstance(opened, DictionaryObject):
            return _problem_in(opened)
    return None


def _walk(obj: Any, seen: set[int], depth: int = 0) -> str | None:
    """Look through a direct object tree (indirect references are visited on their own)."""
    if depth > 64 or id(obj) in seen:
        return None
    seen.add(id(obj))
    if (found := _problem_in(obj)) is not None:
        return found
    children: Any = ()
    if isinstance(obj, DictionaryObject):
        children = obj.values()
    elif isinstance(obj, ArrayObject):
        children = obj
    for child in children:
        if (
            isinstance(child, DictionaryObject | ArrayObject)
            and (found := _walk(child, seen, depth + 1)) is not None
        ):
            return found
    return None


def _object_numbers(reader: PdfReader) -> list[int]:
    numbers: set[int] = set()
    for by_number in reader.xref.values():
        numbers.update(by_number)
    numbers.update(reader.xref_objStm)
    return sorted(numbers)


def _decrypt_without_password(reader: PdfReader) -> None:
    """Many receipts are "encrypted" only to restrict printing, with an empty user password:
    those are opened and checked; a document that needs a password cannot be checked."""
    refusal = UnsafeDocument(
        "Password-protected PDFs cannot be checked; send a copy without a password."
    )
    try:
        opened = reader.decrypt("")
    except (PyPdfError, NotImplementedError, ValueError):  # incl. missing AES support
        raise refusal from None
    if not opened:
        raise refusal


def check(file: IO[bytes]) -> None:
    """Raise UnsafeDocument when a PDF carries JavaScript, launch or submit actions, embedded
    files or automatic actions anywhere in it (not only where a viewer would look first), and
    AttachmentUnreadable when it cannot be parsed or needs a password."""
    file.seek(0)
    try:
        reader = PdfReader(file, strict=False)
        if reader.is_encrypted:
            _decrypt_without_password(reader)
        seen: set[int] = set()
        found = _walk(reader.trailer, seen)
        for number in _object_numbers(reader)[:_MAX_OBJECTS]:
            if found is not None:
                break
            try:
                obj = reader.get_object(number)
            except (PyPdfError, ValueError, KeyError, OSError):
                continue
            found = _walk(obj, seen)
        if found is None and len(reader.pages) == 0:
            raise AttachmentUnreadable("The PDF has no pages.")
    except DomainError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, OSError, RecursionError, TypeError):
        raise AttachmentUnreadable("The PDF is damaged and cannot be read.") from None
    finally:
        file.seek(0)
    if found is not None:
        raise UnsafeDocument(
            f"PDFs with {found} are not accepted; print it to a new PDF, or send a photo."
        )
