"""The web session: a signed cookie naming the user and their token generation, with a CSRF
token. Bumping the user's token generation (DELETE .../tokens) ends their web sessions too."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

from tradetalk.config import Settings

SESSION_COOKIE = "tt_session"
# Before sign-in (the demo's sign-in forms) the CSRF token lives in a cookie of its own.
ANON_COOKIE = "tt_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class WebSession:
    """Who is signed in, as the cookie says (checked against the user row by the pages)."""

    user_id: str
    generation: int
    csrf: str
    expires_at: datetime


def _serializer(settings: Settings, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_bytes(), salt=f"tradetalk.web.{purpose}")


def _secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def start(
    response: Response, settings: Settings, user_id: str, generation: int, now: datetime
) -> None:
    """Sign the user in on this response."""
    expires_at = now + timedelta(hours=settings.web_session_hours)
    value = _serializer(settings, "session").dumps(
        {"u": user_id, "g": generation, "c": secrets.token_urlsafe(24), "e": expires_at.timestamp()}
    )
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=settings.web_session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
        path="/",
    )


def end(response: Response) -> None:
    """Sign out."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def read(request: Request, settings: Settings, now: datetime) -> WebSession | None:
    """The session the request's cookie carries, if it is genuine and not expired."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data: Any = _serializer(settings, "session").loads(raw)
        session = WebSession(
            user_id=str(data["u"]),
            generation=int(data["g"]),
            csrf=str(data["c"]),
            expires_at=datetime.fromtimestamp(float(data["e"]), tz=now.tzinfo),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return session if session.expires_at > now else None


def anonymous_csrf(request: Request, settings: Settings) -> tuple[str, str | None]:
    """A visitor's CSRF token before sign-in, and the cookie to set (None: already set)."""
    raw = request.cookies.get(ANON_COOKIE)
    if raw:
        try:
            return str(_serializer(settings, "csrf").loads(raw)), None
        except BadSignature:
            pass
    token = secrets.token_urlsafe(24)
    return token, _serializer(settings, "csrf").dumps(token)


def set_anonymous_csrf(response: Response, settings: Settings, cookie: str) -> None:
    """Store a new visitor's CSRF token."""
    response.set_cookie(
        ANON_COOKIE, cookie, httponly=True, samesite="lax", secure=_secure(settings), path="/"
    )


def csrf_matches(expected: str, presented: str | None) -> bool:
    """Compare a presented CSRF token in constant time."""
    return presented is not None and hmac.compare_digest(expected.encode(), presented.encode())
