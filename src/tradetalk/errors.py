"""Domain errors and their problem+json form (RFC 9457) with stable codes."""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://tradetalk.dev/problems/"


class DomainError(Exception):
    """A rule was broken; carries the HTTP status and a stable machine-readable code."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.detail)

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The problem+json document for this error."""
        problem: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            problem["instance"] = instance
        problem.update(self.extra)
        return problem


class CommittedRefusal(Exception):
    """Mixin for a refusal whose transaction still commits.

    The request fails, but what the service recorded on the way is a fact to keep: a blocked
    attempt (it counts as a strike), an offer found expired. The unit of work commits before
    the error becomes the response."""


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = "A valid credential is required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class DirectMessagesDisabled(Forbidden):
    code = "direct_messages_disabled"
    title = "Direct messages are turned off on this marketplace"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class TransactionPartiesFixed(Conflict):
    code = "transaction_parties_fixed"
    title = "The buyer and seller of a transaction with a conversation cannot change"


class InvalidRequest(DomainError):
    status = 422
    code = "validation_error"
    title = "The request is not valid"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after_seconds: int) -> None:
        retry = max(1, int(retry_after_seconds))
        super().__init__(
            detail,
            extra={"retry_after_seconds": retry},
            headers={"Retry-After": str(retry)},
        )


class ServiceUnavailable(DomainError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached right now: stopped, restarting or unreachable.

    Retrying is safe: a write whose connection broke was rolled back, or (when it broke during
    the commit itself) may have been stored, which the retry finds by its client id."""

    code = "database_unavailable"
    title = "The database is unavailable"
    retry_after_seconds: ClassVar[int] = 5

    def __init__(self, detail: str | None = None) -> None:
        retry = self.retry_after_seconds
        super().__init__(
            detail or "The database cannot be reached; retry shortly.",
            extra={"retry_after_seconds": retry},
            headers={"Retry-After": str(retry)},
        )


class Overloaded(DatabaseUnavailable):
    """Every pooled database connection stayed busy for longer than the pool's timeout: the
    database is there, but this process has more requests than connections to serve them.

    A kind of DatabaseUnavailable (whoever handles that handles this), with its own code so
    that a client or an operator can tell load from an outage, and a shorter Retry-After."""

    code = "overloaded"
    title = "The service is overloaded"
    retry_after_seconds: ClassVar[int] = 2

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "Too many requests are waiting for the database; retry shortly.")


def problem_response(error: DomainError) -> JSONResponse:
    """The HTTP response for an error that must not roll back the request's transaction."""
    return JSONResponse(
        error.to_problem(),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers or None,
    )
