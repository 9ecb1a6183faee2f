"""A FastAPI route whose well-formed requests skip FastAPI's per-request machinery.

Why: for the busiest write (sending a message) FastAPI's own work per request (reading and
type-sniffing the body, solving the dependency graph, validating, checking the response
against its model, building the response) came to about a sixth of the server's
instructions per send (callgrind, the send path in process: 6.3 million instructions of
server work per send, 0.9 million of them in that machinery). No library offers a lighter
path through FastAPI's own routes, so this one is ours, kept small.

How it stays the same endpoint: the route is still a plain `APIRoute` (same path, same
OpenAPI entry, same matching). A request is served directly only when it is plainly well
formed: a JSON body that the route's body model accepts, a `Bearer` credential, path values
that the route's `parse_path` accepts. Everything else (a missing or foreign credential, a
body of another type, a payload the model refuses, a bad path value) is handed, body and all,
to FastAPI's own handling of the route, before anything is read from or written to the
database, so that every refusal is FastAPI's, word for word. Errors raised while serving
(the domain's refusals, a database outage) go to the app's exception handlers as they would
from the endpoint, since the route runs inside the app's exception middleware. A route with
dependencies of its own or of a router that includes it, or an app with dependency
overrides, is never served directly: only FastAPI runs those.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, TypeAdapter
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

try:  # FastAPI's own accessor, where routers are included by reference (see _needs_fastapi)
    from fastapi.routing import (  # type: ignore[attr-defined,unused-ignore]
        _get_scope_effective_route_context as _effective_route_context,
    )
except ImportError:  # pragma: no cover - older FastAPI copies included routes instead

    def _effective_route_context(scope: Scope) -> Any | None:
        return None


class DirectRoute(APIRoute):
    """Base of a route with a direct path; see the module's docstring.

    A subclass names `body_model` (the endpoint's body) and implements `parse_path` and
    `serve`."""

    body_model: ClassVar[type[BaseModel]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # FastAPI serialises a returned model with its response model's adapter, by alias.
        self._response_adapter: TypeAdapter[Any] = TypeAdapter(self.response_model)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in (self.methods or ())
            or self._needs_fastapi(scope)
        ):
            await super().handle(scope, receive, send)
            return
        received = await _read_body(receive)
        replay = _replaying(received, receive)
        body = b"".join(m.get("body", b"") for m in received)
        direct = received[-1]["type"] == "http.request" and _takes_json(scope)
        credentials = _bearer(scope) if direct else None
        path = self.parse_path(scope.get("path_params", {})) if credentials else None
        payload = _payload(self.body_model, body) if path is not None else None
        result = None
        if payload is not None and credentials is not None:
            result = await self.serve(scope, path, credentials, payload)
        if result is None:
            await self.delegate(scope, replay, send)
            return
        response = Response(
            self._response_adapter.dump_json(result, by_alias=True),
            status_code=self.status_code or 200,
            media_type="application/json",
        )
        await response(scope, replay, send)

    def _needs_fastapi(self, scope: Scope) -> bool:
        """Whether route or router dependencies, or dependency overrides, apply: only
        FastAPI's handling runs those. Served directly, a check added to the route or to a
        router that includes it (an API key, say) would be skipped without a sound, so such
        a route is never served directly. FastAPI before 0.16x copies an included route with
        its routers' dependencies added; later versions keep them in a per-inclusion context
        that the request's scope names."""
        context = _effective_route_context(scope)
        if self.dependencies or getattr(context, "dependencies", None):
            return True
        provider = getattr(context, "dependency_overrides_provider", None)
        for each in (provider, self.dependency_overrides_provider):
            if getattr(each, "dependency_overrides", None):
                return True
        return False

    def parse_path(self, values: Mapping[str, Any]) -> Any | None:
        """The path's values as the endpoint takes them, or None for anything that is not
        plainly valid (FastAPI then says what is wrong with it)."""
        raise NotImplementedError

    async def serve(
        self, scope: Scope, path: Any, credentials: HTTPAuthorizationCredentials, payload: Any
    ) -> BaseModel | None:
        """Serve a well-formed request: what the endpoint returns, or None (only before any
        I/O) to hand the request to FastAPI after all."""
        raise NotImplementedError

    async def delegate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own handling of the route (its refusals, word for word)."""
        await super().handle(scope, receive, send)


async def _read_body(receive: Receive) -> list[Message]:
    """The request's messages up to the end of its body (or a disconnect), to replay."""
    messages = [await receive()]
    while messages[-1]["type"] == "http.request" and messages[-1].get("more_body", False):
        messages.append(await receive())
    return messages


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _header(scope: Scope, name: bytes) -> str | None:
    # The first of the name, decoded as Starlette decodes header values.
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _takes_json(scope: Scope) -> bool:
    """A body FastAPI would parse as JSON: only the plain `application/json` type is taken
    here (with parameters such as a charset); `+json` types and the rest go to FastAPI."""
    content_type = _header(scope, b"content-type")
    if content_type is None:
        return False
    return content_type.partition(";")[0].strip().lower() == "application/json"


def _bearer(scope: Scope) -> HTTPAuthorizationCredentials | None:
    """The credential as FastAPI's `HTTPBearer` reads it, or None where it would find none."""
    scheme, token = get_authorization_scheme_param(_header(scope, b"authorization"))
    if not scheme or not token or scheme.lower() != "bearer":
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=token)


def _payload(model: type[BaseModel], body: bytes) -> BaseModel | None:
    """The body validated as FastAPI validates it (`json.loads`, then the model in Python
    mode), or None where FastAPI would refuse it."""
    if not body:
        return None
    try:
        return model.model_validate(json.loads(body))
    except Exception:  # refused by the model, not JSON, not UTF-8, too deep: FastAPI says which
        return None
