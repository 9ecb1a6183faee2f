"""The send's direct path answers exactly as FastAPI's own handling of the same route.

Every request below is sent twice: as it is served (well-formed sends take the direct path),
and with the direct path switched off, so that FastAPI handles it from start to end. Status,
content type and body must agree; what a request changes must agree too."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from starlette.types import Receive, Scope, Send

from tests.attachments import files
from tests.attachments.conftest import upload
from tests.fixtures.marketplace import Marketplace, TestTransaction
from tradetalk.accounts.models import User
from tradetalk.conversations.api import _SendRoute, send_message
from tradetalk.conversations.schemas import MessageOut
from tradetalk.deps import user_for_write
from tradetalk.kit import direct_route
from tradetalk.kit.clock import ManualClock
from tradetalk.kit.direct_route import DirectRoute

Request = Callable[[TestTransaction, int], Awaitable[httpx.Response]]
# Values that differ between two sends of the same thing (new rows, new times).
VOLATILE = {
    "id",
    "conversation_id",
    "created_at",
    "seq",
    "sender_id",
    "until",
    "url",
    "thumbnail_url",
}


@pytest.fixture
def delegated(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths of the requests the direct route handed to FastAPI."""
    paths: list[str] = []
    handle_with_fastapi = DirectRoute.delegate

    async def counting(self: DirectRoute, scope: Scope, receive: Receive, send: Send) -> None:
        paths.append(scope["path"])
        await handle_with_fastapi(self, scope, receive, send)

    monkeypatch.setattr(DirectRoute, "delegate", counting)
    yield paths


@contextmanager
def fastapi_only() -> Iterator[None]:
    """The direct path turned off: every request goes to FastAPI's own handling."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(direct_route, "_payload", lambda model, body: None)
        yield


def _shape(response: httpx.Response) -> dict[str, Any]:
    """What a client sees, with the values that differ between two sends left out."""

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ("…" if k in VOLATILE else scrub(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    return {
        "status": response.status_code,
        "content-type": response.headers.get("content-type"),
        "content-length-matches": int(response.headers["content-length"]) == len(response.content),
        "json": scrub(response.json()),
    }


async def _both(market: Marketplace, request: Request) -> tuple[httpx.Response, httpx.Response]:
    """The same request on two fresh deals: served as usual, then by FastAPI alone."""
    served_deal = await market.transaction()
    served = await request(served_deal, await market.conversation_id(served_deal))
    fastapi_deal = await market.transaction()
    fastapi_cid = await market.conversation_id(fastapi_deal)
    with fastapi_only():
        by_fastapi = await request(fastapi_deal, fastapi_cid)
    assert _shape(served) == _shape(by_fastapi), (served.text, by_fastapi.text)
    return served, by_fastapi


def _post(body: Any, *, headers: dict[str, str] | None = None, raw: bytes | None = None) -> Request:
    async def request(deal: TestTransaction, cid: int) -> httpx.Response:
        url = f"/v1/conversations/{cid}/messages"
        if raw is not None:
            return await deal.buyer.client.post(url, content=raw, headers=headers)
        return await deal.buyer.client.post(url, json=body, headers=headers)

    return request


async def test_a_plain_send_is_served_directly_and_answers_as_fastapi_does(
    market: Marketplace, delegated: list[str]
) -> None:
    served, _ = await _both(market, _post({"body": "still sealed?"}))
    assert served.status_code == 201
    assert served.json()["body"] == "still sealed?"
    assert served.json()["attachments"] == []
    # Only the second send (with the direct path off) went through FastAPI.
    assert len(delegated) == 1


async def test_retries_return_the_same_message_on_both_paths(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    body = {"body": "is it still available?", "client_message_id": "m-1"}
    first = await market.send(deal.buyer, cid, **body)
    with fastapi_only():
        again = await market.send(deal.buyer, cid, **body)
    third = await market.send(deal.buyer, cid, **body)
    assert first == again == third
    page = (await deal.seller.client.get(f"/v1/conversations/{cid}/messages")).json()
    assert [m["id"] for m in page["items"]] == [first["id"]]


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-token", "Bearer test-server-key"],
    ids=["missing", "basic", "empty-bearer", "bad-token", "server-key"],
)
async def test_credentials_are_refused_alike(
    market: Marketplace, authorization: str | None
) -> None:
    async def request(deal: TestTransaction, cid: int) -> httpx.Response:
        headers = {"Authorization": authorization} if authorization else {}
        async with market.client(headers) as client:
            return await client.post(f"/v1/conversations/{cid}/messages", json={"body": "hi"})

    served, _ = await _both(market, request)
    assert served.status_code == 401
    assert served.json()["code"] == "unauthenticated"


@pytest.mark.parametrize("how", ["revoked", "expired", "revoked-unknown-conversation"])
async def test_tokens_no_longer_good_are_refused_alike(
    market: Marketplace, clock: ManualClock, how: str
) -> None:
    """Well-formed tokens that the database or the clock says are no longer good: the direct
    path reads the caller's row with the conversation, and must still refuse them first."""

    async def request(deal: TestTransaction, cid: int) -> httpx.Response:
        token = await market.token(deal.buyer.id, ttl_seconds=60)
        if how == "expired":
            clock.advance(timedelta(seconds=61))
        else:
            revoked = await market.server.delete(f"/v1/users/{deal.buyer.id}/tokens")
            assert revoked.status_code == 204
        target = cid if how != "revoked-unknown-conversation" else 999999
        async with market.client({"Authorization": f"Bearer {token}"}) as client:
            return await client.post(f"/v1/conversations/{target}/messages", json={"body": "hi"})

    served, _ = await _both(market, request)
    assert served.status_code == 401
    assert served.json()["code"] == "unauthenticated"


async def test_conversations_the_sender_cannot_see_are_404_alike(market: Marketplace) -> None:
    outsider = await market.user()

    async def as_outsider(deal: TestTransaction, cid: int) -> httpx.Response:
        return await outsider.client.post(f"/v1/conversations/{cid}/messages", json={"body": "x"})

    served, _ = await _both(market, as_outsider)
    assert served.status_code == 404
    assert served.json()["code"] == "not_found"
    for path_value in ["999999", "0", "-3", "abc", "1e3", "99999999999999999999", "\uff10\uff17"]:

        async def unknown(deal: TestTransaction, cid: int, value: str = path_value) -> Any:
            return await deal.buyer.client.post(
                f"/v1/conversations/{value}/messages", json={"body": "x"}
            )

        served, _ = await _both(market, unknown)
        assert served.status_code in (404, 422), path_value


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"body": "hi"', "application/json"),
        (b'{"body": "hi", "colour": "red"}', "application/json"),
        (b"", "application/json"),
        (b"[]", "application/json"),
        (b'{"body": "   "}', "application/json"),
        (b'{"body": "hi"}', "text/plain"),
        (b'{"body": "hi"}', "application/merge-patch+json"),
        (b"\xff\xfe", "application/json"),
        (b'{"body": "hi", "attachment_ids": ["nope"]}', "application/json"),
    ],
    ids=[
        "truncated",
        "extra-field",
        "empty",
        "array",
        "blank-body",
        "text-plain",
        "plus-json",
        "not-utf8",
        "bad-attachment-id",
    ],
)
async def test_malformed_payloads_are_refused_alike(
    market: Marketplace, raw: bytes, content_type: str
) -> None:
    served, _ = await _both(market, _post(None, raw=raw, headers={"Content-Type": content_type}))
    assert served.status_code in (201, 422), served.text


async def test_a_json_content_type_with_a_charset_is_served(
    market: Marketplace, delegated: list[str]
) -> None:
    raw = json.dumps({"body": "¿sigue disponible?"}).encode()
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    served, _ = await _both(market, _post(None, raw=raw, headers=headers))
    assert served.status_code == 201
    assert len(delegated) == 1


async def test_a_body_over_the_limit_is_413_and_stores_nothing(market: Marketplace) -> None:
    raw = json.dumps({"body": "x" * (1024 * 1024)}).encode()
    served, _ = await _both(
        market, _post(None, raw=raw, headers={"Content-Type": "application/json"})
    )
    assert served.status_code == 413
    assert served.json()["code"] == "payload_too_large"


async def test_blocked_contact_details_are_refused_alike_and_count_once(
    market: Marketplace,
) -> None:
    served, _ = await _both(market, _post({"body": "text me at four one five 555 0199"}))
    assert served.status_code == 422
    assert served.json()["code"] == "contact_info_blocked"
    assert "phone" in {finding["kind"] for finding in served.json()["findings"]}
    # One attempt, one strike, on the direct path as on FastAPI's.
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    support = await market.user(is_support=True)
    await _post({"body": "whatsapp me on +1 415 555 0199"})(deal, cid)
    record = (await support.client.get(f"/v1/moderation/users/{deal.buyer.id}")).json()
    assert record["active_strikes"] == 1


async def test_a_paused_sender_is_refused_alike(market: Marketplace) -> None:
    async def after_three_strikes(deal: TestTransaction, cid: int) -> httpx.Response:
        for _ in range(3):
            await deal.buyer.client.post(
                f"/v1/conversations/{cid}/messages", json={"body": "call 415-555-0199"}
            )
        return await deal.buyer.client.post(
            f"/v1/conversations/{cid}/messages", json={"body": "ok, fine"}
        )

    served, _ = await _both(market, after_three_strikes)
    assert served.status_code == 403
    assert served.json()["code"] == "messaging_paused"


async def test_attachments_and_support_messages_answer_alike(market: Marketplace) -> None:
    async def with_photo(deal: TestTransaction, cid: int) -> httpx.Response:
        uploaded = await upload(deal.buyer, files.image_bytes("PNG"), "dent.png", "image/png")
        assert uploaded.status_code == 201, uploaded.text
        return await deal.buyer.client.post(
            f"/v1/conversations/{cid}/messages",
            json={"body": "the dent", "attachment_ids": [uploaded.json()["id"]]},
        )

    served, _ = await _both(market, with_photo)
    assert served.status_code == 201
    assert [a["content_type"] for a in served.json()["attachments"]] == ["image/png"]

    support = await market.user(is_support=True)

    async def as_support(deal: TestTransaction, cid: int) -> httpx.Response:
        await market.server.post(f"/v1/transactions/{deal.id}/dispute", json={"reason": "dent"})
        return await support.client.post(
            f"/v1/conversations/{cid}/messages", json={"body": "We are looking into it."}
        )

    served, _ = await _both(market, as_support)
    assert served.status_code == 201
    assert served.json()["sender_role"] == "support"
    assert served.json()["sender_id"] == support.id


async def test_router_dependencies_run_even_on_the_direct_path(
    app: FastAPI, market: Marketplace
) -> None:
    # A check added later to the route's router, or to a router including it (an API key,
    # say), must run: such a route is handed to FastAPI, which runs it.
    deal = await market.transaction()
    cid = await market.conversation_id(deal)

    async def closed_for_maintenance() -> None:
        raise HTTPException(status_code=503, detail="maintenance")

    for router in (
        _router_with(dependencies=[Depends(closed_for_maintenance)]),
        _included(_router_with(), dependencies=[Depends(closed_for_maintenance)]),
    ):
        side = FastAPI()
        side.state.ctx = app.state.ctx
        side.include_router(router)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=side), base_url="http://testserver"
        ) as client:
            response = await client.post(
                f"/conversations/{cid}/messages",
                json={"body": "hello"},
                headers={"Authorization": f"Bearer {deal.buyer.token}"},
            )
        assert response.status_code == 503
    page = (await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")).json()
    assert page["items"] == []  # nothing was sent past the check


async def test_dependency_overrides_apply_to_the_send(app: FastAPI, market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)

    async def nobody() -> User:
        raise HTTPException(status_code=401, detail="overridden")

    app.dependency_overrides[user_for_write] = nobody
    try:
        response = await deal.buyer.client.post(
            f"/v1/conversations/{cid}/messages", json={"body": "hello"}
        )
    finally:
        app.dependency_overrides.clear()
    assert response.status_code == 401
    assert response.json()["detail"] == "overridden"
    await market.send(deal.buyer, cid, "and now it goes through")


def _router_with(**options: Any) -> APIRouter:
    router = APIRouter(**options)
    router.add_api_route(
        "/conversations/{conversation_id}/messages",
        send_message,
        methods=["POST"],
        response_model=MessageOut,
        status_code=201,
        route_class_override=_SendRoute,
    )
    return router


def _included(router: APIRouter, **options: Any) -> APIRouter:
    outer = APIRouter()
    outer.include_router(router, **options)
    return outer
