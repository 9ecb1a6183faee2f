"""Schemas shared by every domain: the problem document and OpenAPI error responses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from tradetalk.errors import PROBLEM_JSON


class Problem(BaseModel):
    """An error, as application/problem+json (RFC 9457) with a stable `code`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


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
