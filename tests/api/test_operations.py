"""Health, readiness, metrics, the OpenAPI document and error shapes."""

from __future__ import annotations

from tests.fixtures.marketplace import Marketplace

CONTRACT = {
    ("put", "/v1/users/{user_id}"),
    ("put", "/v1/transactions/{transaction_id}"),
    ("post", "/v1/users/{user_id}/tokens"),
    ("delete", "/v1/users/{user_id}/tokens"),
    ("get", "/v1/transactions/{transaction_id}/conversation"),
    ("post", "/v1/conversations"),
    ("get", "/v1/conversations"),
    ("get", "/v1/conversations/{conversation_id}"),
    ("get", "/v1/conversations/{conversation_id}/messages"),
    ("post", "/v1/conversations/{conversation_id}/messages"),
    ("post", "/v1/conversations/{conversation_id}/read"),
    ("get", "/v1/search"),
}


async def test_health_and_readiness(market: Marketplace) -> None:
    assert (await market.anonymous.get("/healthz")).json() == {"status": "ok"}
    ready = await market.anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] in {"sqlite", "postgresql"}


async def test_metrics_count_requests_by_route(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "hi")
    text = (await market.anonymous.get("/metrics")).text
    assert (
        'tradetalk_http_requests_total{method="POST",'
        'route="/v1/conversations/{conversation_id}/messages",status="201"} 1.0'
    ) in text
    assert "tradetalk_http_request_seconds_bucket" in text


async def test_metrics_count_made_up_methods_as_one(market: Marketplace) -> None:
    for word in ("BREW", "WHEN", "PROPFIND"):
        response = await market.anonymous.request(word, "/v1/conversations")
        assert response.status_code == 405
    text = (await market.anonymous.get("/metrics")).text
    assert 'tradetalk_http_requests_total{method="OTHER",' in text
    assert all(f'method="{word}"' not in text for word in ("BREW", "WHEN", "PROPFIND"))
    # A second request of a kind counts on the same series.
    await market.anonymous.get("/healthz")
    await market.anonymous.get("/healthz")
    text = (await market.anonymous.get("/metrics")).text
    assert 'tradetalk_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text


async def test_openapi_describes_every_contract_endpoint_and_its_errors(
    market: Marketplace,
) -> None:
    spec = (await market.anonymous.get("/openapi.json")).json()
    operations = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert operations >= CONTRACT
    for method, path in CONTRACT:
        responses = spec["paths"][path][method]["responses"]
        assert "401" in responses, (method, path)
        assert "422" in responses, (method, path)
        assert "application/problem+json" in responses["401"]["content"]
    assert (
        "bearerAuth" in str(spec["components"]["securitySchemes"])
        or spec["components"]["securitySchemes"]
    )


async def test_unknown_routes_and_methods_answer_problem_json(market: Marketplace) -> None:
    missing = await market.anonymous.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "not_found"
    wrong = await market.server.delete("/v1/transactions/t-1")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


def test_committed_openapi_document_is_current() -> None:
    """docs/openapi.json must be regenerated (`tradetalk openapi --out docs/openapi.json`)."""
    import json
    from pathlib import Path

    from tradetalk.app import create_app
    from tradetalk.config import Settings

    committed = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    current = create_app(Settings(secret_key="openapi-export-only")).openapi()
    assert committed == json.loads(json.dumps(current)), (
        "run: tradetalk openapi --out docs/openapi.json"
    )
