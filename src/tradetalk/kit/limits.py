"""Limits at the edge of the app: request body size, per-address rate limits, security headers.

Per-user limits live in the services, which know who acts. The ones here count by client
address before any authentication or database work, so a flood from one machine is cheap to
refuse whoever it signs in as. The client address is the connection's peer, or what a trusted
proxy says it is (`TRADETALK_TRUSTED_PROXIES`, applied by uvicorn's ProxyHeadersMiddleware in
front of these).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItem
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradetalk.config import Settings
from tradetalk.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE, RateLimited, problem_response
from tradetalk.kit.ratelimit import per_hour, per_minute

if TYPE_CHECKING:
    from tradetalk.context import AppContext


def client_address(scope: Scope) -> str:
    """The address a request or socket came from (after any trusted proxy's rewriting)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# --- per-address rate limits ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressRule:
    """Requests matching `method` and `path` count against one limit per client address."""

    name: str
    method: str
    path: re.Pattern[str]
    limit: RateLimitItem
    what: str


def address_rules(settings: Settings) -> list[AddressRule]:
    """The per-address limits these settings ask for (a limit of 0 is left out)."""
    minute, hour = per_minute, per_hour
    messages = settings.ip_messages_per_minute
    wanted = [
        ("send", "POST", r"/v1/conversations/[^/]+/messages", messages, minute, "messages"),
        ("send", "POST", r"/inbox/[^/]+/messages", messages, minute, "messages"),
        (
            "conversation",
            "POST",
            r"/v1/conversations",
            settings.ip_conversations_per_hour,
            hour,
            "new conversations",
        ),
        ("upload", "POST", r"/v1/attachments", settings.ip_uploads_per_minute, minute, "uploads"),
        (
            "typing",
            "POST",
            r"/v1/conversations/[^/]+/typing",
            settings.ip_typing_per_minute,
            minute,
            "typing signals",
        ),
        (
            "login",
            "GET",
            r"/web/login/[^/]*",
            settings.ip_login_links_per_minute,
            minute,
            "sign-in attempts",
        ),
    ]
    return [
        AddressRule(name, method, re.compile(path), window(count), what)
        for name, method, path, count, window, what in wanted
        if count > 0
    ]


class AddressRateLimits:
    """Refuses (429, `Retry-After`) requests past a per-address limit; see `address_rules`."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.rules = address_rules(settings) if settings.rate_limits else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.rules:
            rule = self._rule(scope["method"], scope["path"])
            if rule is not None:
                ctx: AppContext = scope["app"].state.ctx
                try:
                    await ctx.limiter.hit(
                        rule.limit, "ip", rule.name, client_address(scope), what=rule.what
                    )
                except RateLimited as exc:
                    await problem_response(exc)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _rule(self, method: str, path: str) -> AddressRule | None:
        for rule in self.rules:
            if rule.method == method and rule.path.fullmatch(path):
                return rule
        return None


# --- request body size ------------------------------------------------------------------------


class RequestTooLarge(StarletteHTTPException):
    """Raised from `receive` when a body passes its limit; the app's handler makes it a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request bodies up to {limit} bytes are taken.")


class BodySizeLimit:
    """Refuses request bodies over `TRADETALK_MAX_REQUEST_BYTES` with 413 `payload_too_large`.

    A declared Content-Length over the limit is refused before any byte is read; a chunked or
    understated body is cut off as soon as the bytes received pass the limit, so an oversize
    body is never held in memory. Uploads (`POST /v1/attachments`) stream to their own, larger
    limit (`TRADETALK_MAX_ATTACHMENT_BYTES`) and are left to it; inbound email has its own."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.default = settings.max_request_bytes
        self.own_limits: dict[tuple[str, str], int | None] = {
            ("POST", "/v1/attachments"): None,  # receive_file enforces max_attachment_bytes
            ("POST", "/v1/inbound/email"): settings.inbound_max_bytes,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.own_limits.get((scope["method"], scope["path"]), self.default)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _payload_too_large(limit, scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except RequestTooLarge:
            # Normally the app's HTTPException handler has answered already; this is for a
            # reader outside it (a middleware, a background read).
            if started:
                raise
            await _payload_too_large(limit, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _payload_too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    from fastapi.responses import JSONResponse

    detail = f"Request bodies up to {limit} bytes are taken."
    body = {
        "type": PROBLEM_TYPE_BASE + "payload_too_large",
        "title": detail,
        "status": 413,
        "detail": detail,
        "code": "payload_too_large",
    }
    # The rest of the body is not read: the connection is closed after the answer.
    response = JSONResponse(
        body, status_code=413, media_type=PROBLEM_JSON, headers={"Connection": "close"}
    )
    await response(scope, receive, send)


# --- security headers -------------------------------------------------------------------------


class SecurityHeaders:
    """Headers every response gets: no framing, no sniffing, and HSTS when it went over TLS.

    HSTS is sent only on a request that really came over https (the connection's own TLS, or
    `X-Forwarded-Proto: https` from a trusted proxy): on plain http it would be ignored by
    browsers at best, and would lock out a deployment still setting up TLS at worst."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hsts = (
            f"max-age={settings.hsts_seconds}".encode() if settings.hsts_seconds > 0 else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        over_tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                if b"x-frame-options" not in present:
                    headers.append((b"x-frame-options", b"DENY"))
                if b"x-content-type-options" not in present:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if over_tls and self.hsts is not None:
                    headers.append((b"strict-transport-security", self.hsts))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
