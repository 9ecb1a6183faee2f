"""Keyset pagination: opaque cursors and the page shape every list shares."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query

from tradetalk.errors import InvalidRequest

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 100

Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description="Items per page, 1 to 100 (default 50).")
]


class InvalidCursor(InvalidRequest):
    code = "invalid_cursor"
    title = "The cursor is not one this API handed out"


def encode_cursor(*key: int | str | datetime) -> str:
    """Pack a row's sort key into an opaque, URL-safe cursor."""
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """Unpack a cursor into a key of the given types, or raise InvalidCursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong arity")
        key: list[Any] = []
        for kind, value in zip(types, values, strict=True):
            if kind is datetime:
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    raise ValueError("naive datetime")
                key.append(parsed)
            elif kind is int:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError("not an int")
                key.append(value)
            elif kind is str:
                if not isinstance(value, str):
                    raise ValueError("not a str")
                key.append(value)
            else:  # pragma: no cover - programming error
                raise TypeError(kind)
        return tuple(key)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("The cursor is malformed or expired.") from exc


def split_page(rows: Sequence[T], limit: int) -> tuple[list[T], bool]:
    """Given up to limit+1 rows, return the page and whether more follow."""
    return list(rows[:limit]), len(rows) > limit
