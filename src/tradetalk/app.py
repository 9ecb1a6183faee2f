"""The ASGI app: API, event stream and pages, with their lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tradetalk import __version__
from tradetalk.accounts.api import router as users_router
from tradetalk.attachments.api import router as attachments_router
from tradetalk.config import Settings
from tradetalk.context import AppContext
from tradetalk.conversations.api import router as conversations_router
from tradetalk.conversations.api import send_router
from tradetalk.db import install_database_error_handler
from tradetalk.disputes.api import client as disputes_client_router
from tradetalk.disputes.api import server as disputes_server_router
from tradetalk.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE, DomainError, problem_response
from tradetalk.health import router as health_router
from tradetalk.kit import openapi as openapi_document
from tradetalk.kit.clock import Clock
from tradetalk.kit.limits import AddressRateLimits, BodySizeLimit, SecurityHeaders
from tradetalk.marketplace.api import router as transactions_router
from tradetalk.notifications import api as notifications_api
from tradetalk.notifications.lifecycle import notification_services
from tradetalk.observability import Metrics, RequestMiddleware, configure_logging
from tradetalk.offers.api import router as offers_router
from tradetalk.protection.api import moderation as moderation_router
from tradetalk.protection.api import router as safety_router
from tradetalk.realtime.api import router as events_router
from tradetalk.realtime.retention import run_pruner
from tradetalk.record.api import router as record_router
from tradetalk.shipping.api import router as shipping_router
from tradetalk.web import pages as web_pages
from tradetalk.web.actions import router as web_actions_router
from tradetalk.web.api import router as web_api_router
from tradetalk.web.support import router as support_router

log = structlog.get_logger("tradetalk")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# What FastAPI says when it cannot even decode a request body.
_UNPARSEABLE_BODY = "There was an error parsing the body"

API_DESCRIPTION = """
Messaging for online marketplaces. Buyers and sellers talk in conversations tied to the
transaction they are about.

**Auth** is `Authorization: Bearer <credential>`: the operator's server API key on the server
endpoints (users, transactions, tokens), a user token (from `POST /v1/users/{user_id}/tokens`)
on the client endpoints.

**Errors** are `application/problem+json` with a stable `code`: `unauthenticated` (401),
`not_found` (404, also for anything the caller may not see), `validation_error` (422),
`rate_limited` (429, with `Retry-After`), and the specific codes listed per endpoint. Any
endpoint may answer 503 with `Retry-After`: `database_unavailable` while the database cannot be
reached, `overloaded` while every database connection stays busy for too long; retrying is
safe (sends are idempotent on `client_message_id`).

**Lists** take `limit` (1 to 100, default 50) and return `{"items", "next_cursor"}`.
"""


def _problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's).

    Asked of the router itself, method by method: routes sit inside included routers."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": list(error.get("loc", ())),
                "msg": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(str(part) for part in first["loc"])
        return _problem(
            422,
            "validation_error",
            "The request is not valid",
            f"{where}: {first['msg']}" if where else str(first["msg"]),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSEABLE_BODY:
            # FastAPI answers 422 to malformed JSON but 400 to a body that is not even UTF-8;
            # both are a bad payload.
            return _problem(
                422,
                "validation_error",
                "The request is not valid",
                "body: not a JSON document in UTF-8",
                errors=[{"loc": ["body"], "msg": "Invalid JSON", "type": "json_invalid"}],
            )
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        response = _problem(exc.status_code, code, str(exc.detail), str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return _problem(
            500, "internal_error", "Internal error", "Something went wrong on our side."
        )


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the app for these settings; the database must already be migrated."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.secret_key is None:
        raise RuntimeError("TRADETALK_SECRET_KEY must be set (a long random string).")
    if settings.webhook_url and settings.webhook_secret is None:
        raise RuntimeError("TRADETALK_WEBHOOK_URL needs TRADETALK_WEBHOOK_SECRET (whsec_...).")
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = AppContext.build(settings, clock)
        await ctx.start()
        app.state.ctx = ctx
        pruner = asyncio.create_task(run_pruner(ctx))
        try:
            async with notification_services(ctx, worker=settings.worker_embedded):
                yield
        finally:
            pruner.cancel()
            await ctx.close()

    app = FastAPI(
        title="tradetalk",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    _install_error_handlers(app)
    install_database_error_handler(app)  # 503 database_unavailable while it is away
    openapi_document.install(app)
    app.include_router(send_router)  # first: the busiest route (conversations/api.py)
    app.include_router(health_router)
    app.include_router(users_router)
    app.include_router(transactions_router)
    app.include_router(conversations_router)
    app.include_router(safety_router)
    app.include_router(moderation_router)
    app.include_router(offers_router)
    app.include_router(shipping_router)
    app.include_router(attachments_router)
    app.include_router(notifications_api.client_router)
    app.include_router(notifications_api.public_router)
    app.include_router(notifications_api.server_router)
    if settings.demo:
        app.include_router(notifications_api.demo_router)
    app.include_router(record_router)
    app.include_router(disputes_client_router)
    app.include_router(disputes_server_router)
    app.include_router(events_router)
    app.include_router(web_api_router)
    app.include_router(web_pages.router)
    app.include_router(support_router)
    app.include_router(web_actions_router)
    app.mount("/static", StaticFiles(directory=web_pages.STATIC_DIR), name="static")
    app.add_middleware(web_pages.PageSecurityHeaders)
    app.add_middleware(BodySizeLimit, settings=settings)
    app.add_middleware(AddressRateLimits, settings=settings)
    app.add_middleware(RequestMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeaders, settings=settings)
    if settings.trusted_proxies:  # outermost: everything inside sees the real client
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
