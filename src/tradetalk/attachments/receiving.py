"""Reading an upload off the request stream, refusing an oversize one before it is all read.

Starlette's `request.form()` spools a whole file part to a temporary file before the handler
sees it, with no size limit on file parts: a 10 GB upload would be written to disk first. So the
multipart body is parsed here, chunk by chunk, with python-multipart's streaming parser, and the
upload stops as soon as the `file` part passes the limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from tempfile import SpooledTemporaryFile
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from tradetalk.errors import DomainError, InvalidRequest

FILE_FIELD = b"file"
# Multipart framing and any small extra fields a client sends along with the file.
FRAMING_ALLOWANCE = 64 * 1024
SPOOL_IN_MEMORY_BYTES = 1024 * 1024
_FORM_ESCAPES = re.compile("%0A|%0D|%22", re.IGNORECASE)
_UNESCAPED = {"%0A": "\n", "%0D": "\r", "%22": '"'}


class AttachmentTooLarge(DomainError):
    status = 413
    code = "attachment_too_large"
    title = "The file is too large"


class MalformedUpload(InvalidRequest):
    code = "upload_malformed"
    title = "Send the file as multipart/form-data in a field named 'file'"


@dataclass
class ReceivedFile:
    """The bytes of the `file` part (spooled to disk past 1 MiB) and the name it was sent with."""

    file: IO[bytes]
    size: int
    filename: str | None

    def close(self) -> None:
        self.file.close()


class _Receiver:
    """python-multipart callbacks that keep the first `file` part and count everything else."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # Closed by ReceivedFile.close() (or right here on error), outlives this scope.
        self.spool: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_IN_MEMORY_BYTES
        )
        self.size = 0
        self.other_bytes = 0
        self.found = False
        self.complete = False
        self.filename: str | None = None
        self._headers: dict[bytes, bytes] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._in_file = False

    def on_part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition == b"form-data" and params.get(b"name") == FILE_FIELD and not self.found:
            self._in_file = self.found = True
            raw = params.get(b"filename")
            # Browsers send the name as raw UTF-8 (the parser hands it back as latin-1 bytes)
            # with only line breaks and quotes percent-encoded (HTML's form-data encoding).
            if raw is not None:
                name = raw.decode("utf-8", "replace")
                self.filename = _FORM_ESCAPES.sub(lambda m: _UNESCAPED[m[0].upper()], name)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.size += end - start
            if self.size > self.max_bytes:
                raise _too_large(self.max_bytes)
            self.spool.write(data[start:end])
        else:
            self.other_bytes += end - start
            if self.other_bytes > FRAMING_ALLOWANCE:
                raise MalformedUpload("Send only the file (field 'file') in the upload.")

    def on_part_end(self) -> None:
        if self._in_file:
            self.complete = True
            self._in_file = False


def _too_large(max_bytes: int) -> AttachmentTooLarge:
    return AttachmentTooLarge(
        f"Files may be at most {max_bytes:,} bytes ({max_bytes / 2**20:g} MiB)."
    )


async def receive_file(request: Request, *, max_bytes: int) -> ReceivedFile:
    """The `file` part of a multipart/form-data request, read as it streams in; raise
    AttachmentTooLarge as soon as it passes `max_bytes` (or up front from Content-Length)."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise MalformedUpload("The request must be multipart/form-data with a 'file' field.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + FRAMING_ALLOWANCE:
        raise _too_large(max_bytes)

    receiver = _Receiver(max_bytes)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": receiver.on_part_begin,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not receiver.complete:
            raise MalformedUpload("The upload has no complete 'file' field.")
    except MultipartParseError:
        receiver.spool.close()
        raise MalformedUpload("The multipart body is malformed.") from None
    except BaseException:
        receiver.spool.close()
        raise
    receiver.spool.seek(0)
    return ReceivedFile(file=receiver.spool, size=receiver.size, filename=receiver.filename)
