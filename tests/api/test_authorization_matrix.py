"""Every endpoint against every kind of caller: nobody sees what is not theirs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from tests.fixtures.marketplace import Marketplace
from tradetalk.kit.clock import ManualClock

ACTORS = [
    "participant",
    "other_user",
    "support_user",
    "server_key",
    "no_credential",
    "expired_token",
    "forged_token",
]


@dataclass
class Scene:
    market: Marketplace
    transaction_id: str
    conversation_id: int
    message_id: int
    clients: dict[str, httpx.AsyncClient]


@pytest.fixture
async def scene(market: Marketplace, clock: ManualClock) -> Scene:
    deal = await market.transaction()
    conversation_id = await market.conversation_id(deal)
    message = await market.send(deal.buyer, conversation_id, "secret plans for the Morgan dollar")
    other = await market.user()
    support = await market.user(is_support=True)
    soon_expired = await market.token(deal.buyer.id, ttl_seconds=60)
    now = int(clock.now().timestamp())
    forged = jwt.encode(
        {"sub": deal.buyer.id, "gen": 0, "aud": "tradetalk:user", "iat": now, "exp": now + 600},
        "guessed-secret-guessed-secret-guessed!!",
        algorithm="HS256",
    )
    clients = {
        "participant": deal.buyer.client,
        "other_user": other.client,
        "support_user": support.client,
        "server_key": market.server,
        "no_credential": market.anonymous,
        "expired_token": market.client({"Authorization": f"Bearer {soon_expired}"}),
        "forged_token": market.client({"Authorization": f"Bearer {forged}"}),
    }
    market._clients += [clients["expired_token"], clients["forged_token"]]
    clock.advance(timedelta(seconds=61))
    await market.refresh(deal.buyer)
    await market.refresh(other)
    await market.refresh(support)
    return Scene(market, deal.id, conversation_id, message["id"], clients)


def client_endpoints(s: Scene) -> list[tuple[str, str, dict[str, Any] | None]]:
    c = s.conversation_id
    return [
        ("GET", f"/v1/transactions/{s.transaction_id}/conversation", None),
        ("GET", f"/v1/conversations/{c}", None),
        ("GET", f"/v1/conversations/{c}/messages", None),
        ("POST", f"/v1/conversations/{c}/messages", {"body": "hello"}),
        ("POST", f"/v1/conversations/{c}/read", {"message_id": s.message_id}),
    ]


EXPECTED_CONVERSATION_STATUS = {
    "participant": {200, 201},
    "other_user": {404},
    "support_user": {404},
    "server_key": {401},
    "no_credential": {401},
    "expired_token": {401},
    "forged_token": {401},
}


@pytest.mark.parametrize("actor", ACTORS)
async def test_conversation_endpoints(scene: Scene, actor: str) -> None:
    client = scene.clients[actor]
    for method, path, body in client_endpoints(scene):
        response = await client.request(method, path, json=body)
        assert response.status_code in EXPECTED_CONVERSATION_STATUS[actor], (method, path)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert "secret plans" not in response.text


@pytest.mark.parametrize("actor", ["other_user", "support_user"])
async def test_not_visible_looks_exactly_like_not_existing(scene: Scene, actor: str) -> None:
    client = scene.clients[actor]
    missing = scene.conversation_id + 1000
    for suffix in ("", "/messages"):
        hidden = await client.get(f"/v1/conversations/{scene.conversation_id}{suffix}")
        absent = await client.get(f"/v1/conversations/{missing}{suffix}")
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json() == absent.json()


@pytest.mark.parametrize("actor", ACTORS)
async def test_lists_only_show_the_callers_own(scene: Scene, actor: str) -> None:
    client = scene.clients[actor]
    inbox = await client.get("/v1/conversations")
    search = await client.get("/v1/search", params={"q": "secret"})
    if actor == "participant":
        assert [i["id"] for i in inbox.json()["items"]] == [scene.conversation_id]
        assert [h["id"] for h in search.json()["items"]] == [scene.message_id]
    elif actor in ("other_user", "support_user"):
        assert inbox.status_code == search.status_code == 200
        assert inbox.json()["items"] == []
        assert search.json()["items"] == []
    else:
        assert inbox.status_code == search.status_code == 401


@pytest.mark.parametrize("actor", ACTORS)
async def test_server_endpoints_take_only_the_server_key(scene: Scene, actor: str) -> None:
    client = scene.clients[actor]
    user_id = "someone-new"
    calls = [
        ("PUT", f"/v1/users/{user_id}", {"display_name": "New"}),
        ("POST", f"/v1/users/{user_id}/tokens", None),
        ("DELETE", f"/v1/users/{user_id}/tokens", None),
        (
            "PUT",
            "/v1/transactions/t-new",
            {"buyer_id": user_id, "seller_id": "other", "title": "x", "status": "paid"},
        ),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, json=body)
        if actor == "server_key":
            assert response.status_code != 401, (method, path)
        else:
            assert response.status_code == 401, (method, path, actor)


async def test_direct_conversation_endpoint_needs_a_user_token(scene: Scene) -> None:
    for actor in ("server_key", "no_credential", "expired_token", "forged_token"):
        response = await scene.clients[actor].post("/v1/conversations", json={"user_id": "x"})
        assert response.status_code == 401, actor


async def test_nothing_was_written_by_refused_calls(scene: Scene) -> None:
    for actor in ACTORS:
        if actor == "participant":
            continue
        await scene.clients[actor].post(
            f"/v1/conversations/{scene.conversation_id}/messages", json={"body": "intrusion"}
        )
    items = (
        await scene.clients["participant"].get(
            f"/v1/conversations/{scene.conversation_id}/messages"
        )
    ).json()["items"]
    assert [m["body"] for m in items] == ["secret plans for the Morgan dollar"]
