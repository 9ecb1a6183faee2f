"""How `tradetalk serve` runs uvicorn: bounded request heads, connections and frames.

uvicorn bounds an idle keep-alive connection, but not a client that opens a connection and
sends its request line and headers a byte at a time (slow loris): each such client holds a
connection for as long as it likes. Nor does its httptools parser bound the size of a request
head. The HTTP protocols here add both: the whole head must arrive within
`TRADETALK_HTTP_HEADER_TIMEOUT_SECONDS` (408 and close otherwise) and be at most
`TRADETALK_HTTP_MAX_HEADER_BYTES` (431 and close).

The head's clock starts when the connection opens and, on a kept-alive connection, with the
first byte of each later request, not when the previous response ends: an idle kept-alive
connection is uvicorn's to close (`TRADETALK_HTTP_KEEP_ALIVE_SECONDS`). A server that closes
idle connections while a client may be sending on them resets that client's request (the
client, or a proxy in front, saw the connection open and reused it): with a deadline counted
from the last response, every connection idle for 10 s was closed so, whatever keep-alive said.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tradetalk.config import Settings

_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 46\r\n\r\n"
    b"The request headers took too long to arrive.\r\n"
)
_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 35\r\n\r\n"
    b"The request headers are too large.\r\n"
)


class _HeadTooLarge(Exception):
    pass


class _HeadGuard:
    """The deadline for a request head: armed while the server waits for one."""

    header_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    _head_timer: asyncio.TimerHandle | None = None

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _waiting_for_head(self) -> bool:
        raise NotImplementedError

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self._refuse(_408)

    def _refuse(self, response: bytes) -> None:
        self._disarm_head_timer()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


def _httptools_protocol(header_timeout: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(_HeadGuard, HttpToolsProtocol):
        """uvicorn's httptools protocol with a deadline and a size limit on request heads."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.header_timeout = header_timeout
            self.max_header_bytes = max_header_bytes
            self._in_head = False
            self._head_size = 0  # bytes of the head parsed so far (line and complete headers)
            self._head_raw = 0  # bytes received while inside a head (a header still arriving)
            self._refusal: bytes | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def _waiting_for_head(self) -> bool:
            return self._in_head or self.cycle is None or self.cycle.response_complete

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and self._waiting_for_head():
                self._arm_head_timer()  # the first byte of a request head: its clock starts
            was_in_head = self._in_head
            super().data_received(data)
            if was_in_head and self._in_head:
                # Still inside the same head: all of `data` was head. httptools holds a header
                # it has not seen the end of; this bounds that too.
                self._head_raw += len(data)
                if self._head_raw > self.max_header_bytes:
                    self._refuse(_431)

        def send_400_response(self, msg: str) -> None:
            # A parser callback raised: ours (the head is too large) or httptools' own error.
            if self._refusal is not None:
                self._refuse(self._refusal)
            else:
                super().send_400_response(msg)

        def _count(self, size: int) -> None:
            self._head_size += size
            if self._head_size > self.max_header_bytes:
                self._refusal = _431
                raise _HeadTooLarge

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._head_size = self._head_raw = 0

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._disarm_head_timer()
            super().on_headers_complete()

    return GuardedHttpToolsProtocol


def _h11_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    import h11

    class GuardedH11Protocol(_HeadGuard, H11Protocol):
        """uvicorn's h11 protocol with a deadline on request heads (h11 bounds their size)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.header_timeout = header_timeout

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def _waiting_for_head(self) -> bool:
            return self.conn.their_state is h11.IDLE

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and self._waiting_for_head():
                self._arm_head_timer()  # the first byte of a request head: its clock starts
            super().data_received(data)
            if not self._waiting_for_head():
                self._disarm_head_timer()

    return GuardedH11Protocol


def http_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """The HTTP protocol class for uvicorn: httptools when installed (uvicorn[standard]), h11
    otherwise, either with the request-head guard."""
    try:
        import httptools  # noqa: F401
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return _h11_protocol(settings.http_header_timeout_seconds)
    return _httptools_protocol(settings.http_header_timeout_seconds, settings.http_max_header_bytes)


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    """uvicorn's settings for serving `app` as `tradetalk serve` does."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,  # request lines carry tokens (`?token=`) and sign-in links
        http=http_protocol(settings),
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.http_max_connections,
        # The app applies TRADETALK_TRUSTED_PROXIES itself (also in tests and other servers).
        proxy_headers=False,
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=settings.ws_compression,
        server_header=False,
    )


# Allocations of tracked objects between two young-generation collections (CPython's default
# is 700). A request makes thousands of short-lived containers; at 700 the collector ran
# several times per request and promoted the in-flight requests' objects to the older
# generations, whose collections then walked them again.
YOUNG_GENERATION_THRESHOLD = 20_000


def tune_garbage_collector() -> None:
    """Set the collector up for a long-running server process, once its app is built.

    Everything alive now (modules, the app, its routes and schemas, the shield's tables) stays
    for the life of the process: `gc.freeze()` takes it out of every later collection, which
    otherwise walked those hundreds of thousands of objects again at each full collection.
    Reference counting still frees almost everything; the collector only has cycles to find."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, older, oldest)
