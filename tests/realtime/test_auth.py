"""Only a valid user token opens a stream; the stream closes when the token stops being valid."""

from __future__ import annotations

from datetime import timedelta

import jwt

from tests.conftest import SERVER_KEY
from tests.fixtures.marketplace import Marketplace
from tests.realtime.conftest import Connect
from tradetalk.kit.clock import ManualClock

UNAUTHENTICATED = 4401


async def test_no_token_is_refused_with_a_clear_close_code(open_socket: Connect) -> None:
    client = await open_socket(wait_ready=False)
    code, reason = await client.close_code()
    assert code == UNAUTHENTICATED
    assert "token" in reason


async def test_a_forged_token_is_refused(market: Marketplace, open_socket: Connect) -> None:
    user = await market.user()
    claims = jwt.decode(user.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-secret-key-but-long-enough-for-hs256", algorithm="HS256")
    client = await open_socket(forged, wait_ready=False)
    assert await client.close_code() == (UNAUTHENTICATED, "The token is not valid.")


async def test_the_server_api_key_is_not_a_user_token(open_socket: Connect) -> None:
    client = await open_socket(SERVER_KEY, wait_ready=False)
    assert (await client.close_code())[0] == UNAUTHENTICATED


async def test_an_expired_token_is_refused(
    market: Marketplace, open_socket: Connect, clock: ManualClock
) -> None:
    user = await market.user()
    clock.advance(timedelta(hours=2))
    client = await open_socket(user.token, wait_ready=False)
    assert await client.close_code() == (UNAUTHENTICATED, "The token has expired.")


async def test_a_token_that_expires_while_connected_closes_the_socket(
    market: Marketplace, open_socket: Connect, clock: ManualClock
) -> None:
    user = await market.user()
    short = await market.token(user.id, ttl_seconds=120)
    client = await open_socket(short)
    clock.advance(timedelta(minutes=3))
    assert await client.close_code() == (UNAUTHENTICATED, "The token has expired.")


async def test_revoking_a_users_tokens_closes_their_open_sockets(
    market: Marketplace, open_socket: Connect
) -> None:
    user = await market.user()
    client = await open_socket(user.token)
    response = await market.server.delete(f"/v1/users/{user.id}/tokens")
    assert response.status_code == 204, response.text
    assert await client.close_code() == (UNAUTHENTICATED, "The token has been revoked.")


async def test_a_malformed_after_is_refused(market: Marketplace, open_socket: Connect) -> None:
    user = await market.user()
    client = await open_socket(user.token, after="-3", wait_ready=False)
    assert (await client.close_code())[0] == 4400
