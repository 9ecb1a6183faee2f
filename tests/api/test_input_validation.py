"""What the API fuzzer found (tests/reliability/test_api_fuzz.py), pinned as plain tests."""

from __future__ import annotations

from fastapi import FastAPI

from tests.fixtures.marketplace import Marketplace


async def test_405_names_every_method_of_the_path(market: Marketplace) -> None:
    response = await market.server.patch("/v1/users/alice/tokens")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, POST"
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_body_that_is_not_utf8_is_a_validation_error(market: Marketplace) -> None:
    response = await market.server.put(
        "/v1/users/alice",
        content=b"\xff\xfe{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_control_characters_in_text_are_refused(market: Marketplace) -> None:
    # NUL used to reach PostgreSQL, which cannot store it: a 500.
    for body in ({"display_name": "Al\x00ice"}, {"display_name": "\x0bAlice"}):
        response = await market.server.put("/v1/users/alice", json=body)
        assert response.status_code == 422, body
    buyer = await market.user()
    transaction = await market.transaction(buyer)
    conversation_id = await market.conversation_id(transaction)
    response = await buyer.client.post(
        f"/v1/conversations/{conversation_id}/messages", json={"body": "hi\x00"}
    )
    assert response.status_code == 422


async def test_json_types_are_not_coerced(market: Marketplace) -> None:
    wrong = [
        {"display_name": "Alice", "is_support": 0},
        {"display_name": "Alice", "is_support": "false"},
    ]
    for body in wrong:
        response = await market.server.put("/v1/users/alice", json=body)
        assert response.status_code == 422, body
    buyer = await market.user()
    conversation_id = await market.conversation_id(await market.transaction(buyer))
    url = f"/v1/conversations/{conversation_id}/offers"
    refused = await buyer.client.post(url, json={"amount_minor": "900", "currency": "USD"})
    assert refused.status_code == 422
    # JSON Schema calls 900.0 an integer, so the API takes it as one.
    accepted = await buyer.client.post(url, json={"amount_minor": 900.0, "currency": "USD"})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["amount_minor"] == 900


async def test_ids_beyond_what_json_clients_read_exactly_are_invalid(market: Marketplace) -> None:
    # An unbounded moderation item id overflowed the database integer: a 500.
    response = await market.server.get(f"/v1/moderation/items/{2**70}")
    assert response.status_code == 422
    response = await market.server.get(f"/v1/moderation/items/{2**53 - 1}")
    assert response.status_code == 404


def test_every_error_response_is_documented_as_problem_json(app: FastAPI) -> None:
    spec = app.openapi()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )
    assert "HTTPValidationError" not in spec["components"]["schemas"]
