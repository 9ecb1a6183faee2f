"""Structured logs, Prometheus metrics and the request middleware that feeds both."""

from __future__ import annotations

import logging
import random
import re
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Credentials that can ride along in a logged string: a sign-in or unsubscribe link's secret, a
# token in a query string (the event stream's `?token=`), an Authorization header's value, a
# user token (a JWT) anywhere, a webhook secret. Nothing logs these on purpose; this is the net
# under an error message or a traceback that quotes a URL or a header.
_SECRETS = [
    (re.compile(r"(/web/login/|/unsubscribe/)[^\s/?#\"']+"), r"\1[redacted]"),
    (re.compile(r"(\btoken=)[^&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"(?i)(\bbearer\s+)[^\s\"']+"), r"\1[redacted]"),
    (re.compile(r"\beyJ[\w-]+\.eyJ[\w-]+\.[\w-]+"), "[redacted token]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_[redacted]"),
]


def redact(text: str) -> str:
    """`text` with any credential in it replaced by a marker."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _redact_secrets(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    """JSON lines on stderr (or readable console lines for local runs)."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (one per app instance)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tradetalk_http_requests_total",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tradetalk_http_request_seconds",
            "HTTP request latency by route.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )


_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMiddleware:
    """Times each request, counts it by route template, and logs it with a request id."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = structlog.get_logger("tradetalk.http")
        # The metrics' children by (method, route template, status): `labels()` checks and
        # joins its labels under a lock on every call, a few µs per request for a lookup.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _observe(self, method: str, template: str, status_code: int, elapsed: float) -> None:
        key = (method, template, status_code)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.requests.labels(method, template, str(status_code)),
                self.metrics.latency.labels(method, template),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # Random, so that ids say nothing about how many requests came before; not a secret
        # (the client gets it back), so the fast generator rather than the system's entropy.
        request_id = f"{random.getrandbits(64):016x}"
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            # A client names the method: any other word would start new series of metrics.
            self._observe(
                method if method in _KNOWN_METHODS else "OTHER", template, status_code, elapsed
            )
            if status_code >= 500:
                self.log.error(
                    "request",
                    method=method,
                    route=template,
                    status=status_code,
                    ms=round(elapsed * 1000, 2),
                    request_id=request_id,
                )
            else:
                self.log.debug(
                    "request",
                    method=method,
                    route=template,
                    status=status_code,
                    ms=round(elapsed * 1000, 2),
                    request_id=request_id,
                )
