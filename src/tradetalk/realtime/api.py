"""The event stream: `WS /v1/events`, `GET /v1/events` (SSE), and typing signals."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Header, Query, Response, WebSocket, status
from pydantic import Field, ValidationError
from starlette.types import Message
from starlette.websockets import WebSocketDisconnect

from tradetalk.context import AppContext
from tradetalk.conversations.schemas import ConversationIdPath
from tradetalk.db import read_session
from tradetalk.deps import Ctx, CurrentReader, ReadSession
from tradetalk.errors import (
    DatabaseUnavailable,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from tradetalk.kit.limits import client_address
from tradetalk.kit.schemas import MAX_ID, Input, problems
from tradetalk.realtime import events
from tradetalk.realtime import service as realtime_service
from tradetalk.realtime.connection import ClientGone, Ending, pump
from tradetalk.realtime.events import SignalType
from tradetalk.realtime.sse import EventSourceResponse
from tradetalk.realtime.stream import EventStream

router = APIRouter(prefix="/v1", tags=["client: events"])
log = structlog.get_logger("tradetalk.realtime")

# WebSocket close codes (4000-4999 are the application's own).
CLOSE_BAD_REQUEST = 4400  # `after` is not a non-negative integer
CLOSE_UNAUTHENTICATED = 4401  # no token, a forged, expired or revoked one
CLOSE_SLOW_CONSUMER = 4408  # the client did not read its frames fast enough
CLOSE_TRY_AGAIN_LATER = 1013  # the database is away (the standard code for "come back later")
CLOSE_TOO_BIG = 1009  # a frame from the client over TRADETALK_WS_MAX_MESSAGE_BYTES
CLOSE_CODES = {
    Ending.SLOW_CONSUMER: CLOSE_SLOW_CONSUMER,
    Ending.UNAUTHENTICATED: CLOSE_UNAUTHENTICATED,
    Ending.UNAVAILABLE: CLOSE_TRY_AGAIN_LATER,
}


class TypingFrame(Input):
    """A client's "I am typing" in a conversation (WebSocket frame)."""

    type: Literal["typing"]
    conversation_id: int = Field(ge=1, le=MAX_ID)


def _token(query_token: str | None, authorization: str | None) -> str | None:
    if query_token:
        return query_token
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def _after(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) > MAX_ID:
        raise InvalidRequest("after must be the id of an event (a non-negative integer).")
    return int(value)


def _error(code: str, detail: str) -> str:
    return events.signal(SignalType.ERROR, {"code": code, "detail": detail})


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    # A client that does not read may never take the close frame; do not wait on it forever.
    with contextlib.suppress(TimeoutError, RuntimeError, OSError, WebSocketDisconnect):
        async with asyncio.timeout(2.0):
            await websocket.close(code, reason[:120])


class _SocketOutlet:
    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def send(self, frames: list[str]) -> None:
        try:
            for frame in frames:
                await self._websocket.send_text(frame)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise ClientGone from exc

    async def heartbeat(self) -> None:
        await self.send([events.HEARTBEAT_FRAME])


async def _answer(ctx: AppContext, user_id: str, address: str, text: str | None) -> str | None:
    """Act on one frame from the client; returns a frame to send back, if any."""
    if text is None:
        return _error("invalid_frame", 'Send JSON text frames: {"type": "typing", ...}.')
    try:
        frame = TypingFrame.model_validate_json(text)
    except ValidationError:
        return _error("invalid_frame", 'Expected {"type": "typing", "conversation_id": N}.')
    try:
        async with read_session(ctx) as session:
            await realtime_service.do_typing(ctx, session, user_id, frame.conversation_id, address)
    except RateLimited:
        return None  # typing is best effort: a burst of signals is simply thinned out
    except (NotFound, DatabaseUnavailable) as exc:
        return _error(exc.code, exc.detail)
    return None


def _frame_size(message: Message) -> int:
    text, data = message.get("text"), message.get("bytes")
    if text is not None:
        return len(text.encode())
    return len(data) if data is not None else 0


async def _read_client(
    websocket: WebSocket, ctx: AppContext, user_id: str, stream: EventStream
) -> None:
    """Handle the client's frames until it disconnects, then end the stream."""
    address = client_address(websocket.scope)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if _frame_size(message) > ctx.settings.ws_max_message_bytes:
                # `tradetalk serve` has uvicorn refuse these before reading them whole; this
                # is for any other server.
                await _close(websocket, CLOSE_TOO_BIG, "Frames from clients are small.")
                return
            try:
                reply = await _answer(ctx, user_id, address, message.get("text"))
            except Exception:
                log.exception("client frame failed", user_id=user_id)
                reply = _error("internal_error", "Something went wrong on our side.")
            if reply is not None:
                stream.push(reply)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    finally:
        stream.interrupt()


@router.websocket("/events")
async def event_socket(websocket: WebSocket) -> None:
    """The caller's events as JSON text frames `{"id", "type", "data"}`; see docs/realtime.md."""
    ctx: AppContext = websocket.app.state.ctx
    await websocket.accept()
    # Accept first, then refuse with a close code: a browser cannot see an HTTP status.
    token = _token(websocket.query_params.get("token"), websocket.headers.get("authorization"))
    try:
        after = _after(websocket.query_params.get("after"))
        claims = await realtime_service.check_token(ctx, token)
    except Unauthenticated as exc:
        await _close(websocket, CLOSE_UNAUTHENTICATED, exc.detail)
        return
    except InvalidRequest as exc:
        await _close(websocket, CLOSE_BAD_REQUEST, exc.detail)
        return
    except DatabaseUnavailable as exc:
        await _close(websocket, CLOSE_TRY_AGAIN_LATER, exc.detail)
        return
    assert token is not None
    stream = EventStream(ctx, claims.user_id, after)
    try:
        try:
            first = await stream.open()
        except DatabaseUnavailable as exc:
            await _close(websocket, CLOSE_TRY_AGAIN_LATER, exc.detail)
            return
        reader = asyncio.create_task(_read_client(websocket, ctx, claims.user_id, stream))
        try:
            outlet = _SocketOutlet(websocket)
            ended = await pump(ctx, stream, outlet, token, claims.expires_at, first)
        finally:
            reader.cancel()
    finally:
        stream.close()
    if ended.reason is not Ending.CLIENT_GONE:
        log.info("stream closed", user_id=claims.user_id, reason=ended.reason.value)
        await _close(websocket, CLOSE_CODES[ended.reason], ended.detail)


@router.get(
    "/events",
    response_class=Response,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-Sent Events: each `data:` line is one frame "
            '`{"id", "type", "data"}`; durable events carry `id:` too.',
        },
        **problems(401, 422),
    },
)
async def event_source(
    ctx: Ctx,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Replay events after this id.")
    ] = None,
    token: Annotated[
        str | None,
        Query(max_length=4096, description="A user token (EventSource cannot set headers)."),
    ] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    last_event_id: Annotated[
        str | None, Header(description="Sent by EventSource on reconnect; wins over `after`.")
    ] = None,
) -> Response:
    """The caller's events as Server-Sent Events, for clients that cannot use WebSockets."""
    user_token = _token(token, authorization)
    claims = await realtime_service.check_token(ctx, user_token)
    assert user_token is not None
    if last_event_id:
        after = _after(last_event_id.strip())
    stream = EventStream(ctx, claims.user_id, after)
    try:
        first = await stream.open()
    except BaseException:
        stream.close()
        raise
    return EventSourceResponse(ctx, stream, user_token, claims.expires_at, first)


@router.post(
    "/conversations/{conversation_id}/typing",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 404, 422, 429),
)
async def typing(
    conversation_id: ConversationIdPath, actor: CurrentReader, session: ReadSession, ctx: Ctx
) -> Response:
    """Tell the other participants the caller is typing (not stored; at most one per 2 s)."""
    await realtime_service.do_typing(ctx, session, actor.id, conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
