"""The operator syncs users and hands out tokens; tokens expire and can be revoked."""

from __future__ import annotations

from datetime import timedelta

import jwt

from tests.conftest import SECRET
from tests.fixtures.marketplace import Marketplace
from tradetalk.kit.clock import ManualClock


async def test_put_user_creates_then_updates(market: Marketplace) -> None:
    created = await market.server.put(
        "/v1/users/u-1", json={"display_name": "Ada", "email": "ada@example.com"}
    )
    assert created.status_code == 201
    assert created.json()["display_name"] == "Ada"
    updated = await market.server.put(
        "/v1/users/u-1", json={"display_name": "Ada L.", "is_support": True}
    )
    assert updated.status_code == 200
    body = updated.json()
    assert (body["display_name"], body["is_support"], body["email"]) == ("Ada L.", True, None)


async def test_bad_user_payloads_are_refused_with_problem_json(market: Marketplace) -> None:
    cases = [
        ("/v1/users/u-1", {"display_name": ""}),
        ("/v1/users/u-1", {"display_name": "   "}),
        ("/v1/users/u-1", {"display_name": "A", "email": "not-an-email"}),
        ("/v1/users/u-1", {"display_name": "A", "role": "admin"}),
        ("/v1/users/u-1", {}),
        ("/v1/users/bad%20id", {"display_name": "A"}),
        ("/v1/users/" + "x" * 65, {"display_name": "A"}),
    ]
    for path, payload in cases:
        response = await market.server.put(path, json=payload)
        assert response.status_code == 422, (path, payload, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "validation_error"
        assert problem["status"] == 422
        assert problem["detail"]
    assert (await market.server.put("/v1/users/u-1", content=b"{nope")).status_code == 422


async def test_token_lasts_an_hour_by_default_and_at_most_a_day(
    market: Marketplace, clock: ManualClock
) -> None:
    user = await market.user()
    response = await market.server.post(f"/v1/users/{user.id}/tokens")
    assert response.status_code == 201
    claims = jwt.decode(
        response.json()["token"], SECRET, algorithms=["HS256"], audience="tradetalk:user"
    )
    assert claims["exp"] - int(clock.now().timestamp()) == 3600
    too_long = await market.server.post(f"/v1/users/{user.id}/tokens", json={"ttl_seconds": 86401})
    assert too_long.status_code == 422
    day = await market.server.post(f"/v1/users/{user.id}/tokens", json={"ttl_seconds": 86400})
    assert day.status_code == 201


async def test_token_for_unknown_user_is_404(market: Marketplace) -> None:
    response = await market.server.post("/v1/users/nobody/tokens")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_expired_token_is_refused(market: Marketplace, clock: ManualClock) -> None:
    user = await market.user()
    assert (await user.client.get("/v1/conversations")).status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    response = await user.client.get("/v1/conversations")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "expired" in response.json()["detail"]


async def test_revoking_makes_every_earlier_token_invalid(market: Marketplace) -> None:
    user = await market.user()
    second = market.client({"Authorization": f"Bearer {await market.token(user.id)}"})
    assert (await market.server.delete(f"/v1/users/{user.id}/tokens")).status_code == 204
    assert (await user.client.get("/v1/conversations")).status_code == 401
    assert (await second.get("/v1/conversations")).status_code == 401
    fresh = market.client({"Authorization": f"Bearer {await market.token(user.id)}"})
    assert (await fresh.get("/v1/conversations")).status_code == 200
    await second.aclose()
    await fresh.aclose()


async def test_forged_tokens_are_refused(market: Marketplace, clock: ManualClock) -> None:
    user = await market.user()
    now = int(clock.now().timestamp())
    claims = {"sub": user.id, "gen": 0, "aud": "tradetalk:user", "iat": now, "exp": now + 600}
    forgeries = [
        jwt.encode(claims, "a-different-secret-of-sufficient-length!!", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode({**claims, "aud": "other"}, SECRET, algorithm="HS256"),
        user.token[:-2] + ("AA" if not user.token.endswith("AA") else "BB"),
        "not-a-token",
    ]
    for forged in forgeries:
        client = market.client({"Authorization": f"Bearer {forged}"})
        response = await client.get("/v1/conversations")
        await client.aclose()
        assert response.status_code == 401, forged
        assert response.headers["www-authenticate"] == "Bearer"
