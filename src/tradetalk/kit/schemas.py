"""Schemas shared by every domain: the problem document and OpenAPI error responses."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from tradetalk.errors import PROBLEM_JSON

# The largest id any JSON client reads exactly (JavaScript numbers are doubles): path and body
# ids above it are refused as invalid rather than looked up.
MAX_ID = 2**53 - 1

# Text patterns, written out so that every regex engine (Python's, the Rust one pydantic and
# schema validators use, ECMAScript) reads them alike. Control characters other than tab and
# line breaks have no place in text people read, and PostgreSQL cannot store NUL.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
# A character that str.strip() keeps: not whitespace, and not \x1c-\x1f (Python strips those;
# not every engine calls them whitespace).
NOT_BLANK = r"[^\s\x1c-\x1f]"
PLAIN_TEXT = rf"^[^{_CONTROL}]*$"
# Plain text with something in it besides whitespace.
PLAIN_TEXT_NOT_BLANK = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
_CONTROL_RE = re.compile(f"[{_CONTROL}]")


def refuse_control_characters(value: object) -> object:
    """Refuse text with control characters before surrounding whitespace is stripped, so that
    the rule holds for the text as sent, as the OpenAPI pattern says."""
    if isinstance(value, str) and _CONTROL_RE.search(value):
        raise ValueError("must not contain control characters")
    return value


def text_only(value: object) -> object:
    """Refuse anything but text where a strict model parses a value from text (a date-time
    from its ISO 8601 form, not from a Unix timestamp number). A ready `datetime`, which only
    Python callers such as the web pages can pass, is taken as it is."""
    if not isinstance(value, str | datetime):
        raise ValueError("must be a string")
    return value


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


# On every free-text field: the rule holds for the text as sent, before stripping.
REFUSE_CONTROLS = BeforeValidator(refuse_control_characters)


class Input(BaseModel):
    """A request body, typed as JSON types it: no "5" for 5, no 0 for false, no field the API
    does not know. (FastAPI validates bodies in Python mode, where pydantic would coerce.)"""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _json_integers(cls, value: Any) -> Any:
        # JSON Schema counts 1.0 as an integer; a strict int field would refuse it.
        return _whole_numbers(value)


class Problem(BaseModel):
    """An error, as application/problem+json (RFC 9457) with a stable `code`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


class FieldError(BaseModel):
    """One reason a request was refused as invalid."""

    loc: list[str | int] = Field(description='Where: `["body", "offer", "amount_minor"]`.')
    msg: str
    type: str = Field(description="A stable kind: `missing`, `string_too_long`, `json_invalid`...")


class ValidationProblem(Problem):
    """A refused request (422): `validation_error` with `errors`, or a refusal with its own code."""

    errors: list[FieldError] | None = Field(
        default=None, description="For `validation_error`: every invalid field."
    )


_DESCRIPTIONS = {
    400: "Malformed request.",
    401: "No valid credential (missing, forged, expired or revoked token; wrong key).",
    403: "The action is turned off by policy.",
    404: "Not found, or not visible to the caller.",
    409: "Conflicts with the current state.",
    413: "Request too large.",
    415: "The content is of a kind that is not accepted.",
    422: "Invalid payload (`validation_error`) or refused content.",
    429: "Rate limited; see Retry-After.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, "Error."),
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }
