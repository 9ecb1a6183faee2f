"""Schemathesis over the OpenAPI document: no 5xx, answers as documented, bad input refused and no
endpoint answering without its credential.

Two runs on a seeded marketplace: the server API (and moderation, which the operator may use)
with the server key, the client API (and the public endpoints) with a user's token. Every
schemathesis check is on, `ignored_auth` and `negative_data_rejection` included; on top of them
each case is sent again without a credential and with the other kind of credential, which must
be refused (401; 404 where the design hides an API from users).

Bounded for CI: TRADETALK_FUZZ_EXAMPLES (default 6) examples per operation and phase, a fixed
seed; `TRADETALK_FUZZ_EXAMPLES=200 TRADETALK_FUZZ_SEED=random` digs deeper locally. The figures
(cases per credential) are printed at the end of each run (`pytest -s` shows them).
"""

from __future__ import annotations

import io
import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from PIL import Image
from schemathesis.core.parameters import ParameterLocation
from schemathesis.python import asgi as st_asgi

from tests.conftest import SERVER_KEY
from tradetalk.app import create_app
from tradetalk.config import Settings

DEFAULT_EXAMPLES = 6
EXAMPLES = int(os.environ.get("TRADETALK_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
# A deeper run (more examples asked for): every phase on every database, every method.
DEEP = EXAMPLES > DEFAULT_EXAMPLES
ALL_METHODS = ["get", "put", "post", "delete", "options", "patch", "trace", "query"]
_SEED = os.environ.get("TRADETALK_FUZZ_SEED", "20261122")
PROBES_PER_OPERATION = 3
# Whose token the server run's probes present; never named to the fuzzer, so that it cannot
# revoke the token mid-run.
PROBE_USER = "erin"
SEED = random.SystemRandom().getrandbits(64) if _SEED == "random" else int(_SEED)

SERVER_TAGS = r"^(server: .*|moderation|operations)$"
CLIENT_TAGS = r"^(client: .*|public)$"
# The event stream's HTTP face (Server-Sent Events) never ends by itself; tests/realtime covers
# it. The WebSocket of the same path and the HTML pages are not in the document.
OUT_OF_SCOPE = ["/v1/events"]
HTML_PAGES = ["GET /v1/unsubscribe/{token}"]

# Statuses a schema-valid request may still get when the rule is about state, time or content,
# which a JSON schema cannot state. Everything else schema-valid must be accepted (or be 401,
# 403, 404, 409 or 429), everything schema-invalid refused.
_CURSOR = "a cursor the API never handed out is refused (`invalid_cursor`)"
_EXPIRY = "`expires_at` must lie in the next 30 days (`invalid_expiry`)"
STATEFUL_OPERATIONS: dict[str, tuple[str, list[str]]] = {
    "GET /v1/conversations": (_CURSOR, ["422"]),
    "GET /v1/conversations/{conversation_id}/messages": (_CURSOR, ["422"]),
    "GET /v1/notifications": (_CURSOR, ["422"]),
    "GET /v1/search": (_CURSOR, ["422"]),
    "GET /v1/moderation/queue": (_CURSOR, ["422"]),
    "GET /v1/webhooks/deliveries": (_CURSOR, ["422"]),
    "GET /v1/audit-log": (_CURSOR, ["422"]),
    "PUT /v1/transactions/{transaction_id}": ("the buyer cannot be the seller", ["422"]),
    "POST /v1/conversations": ("nobody starts a conversation with themselves", ["422"]),
    "POST /v1/conversations/{conversation_id}/messages": (
        "attachments must be the sender's own unsent uploads (`attachment_not_available`)",
        ["422"],
    ),
    "POST /v1/conversations/{conversation_id}/offers": (_EXPIRY, ["422"]),
    "POST /v1/offers/{offer_id}/counter": (_EXPIRY, ["422"]),
    "POST /v1/conversations/{conversation_id}/read": (
        "the message must be in that conversation (`unknown_message`)",
        ["422"],
    ),
    "POST /v1/conversations/{conversation_id}/dispute-requests": (
        "only a transaction's conversation can be disputed",
        ["422"],
    ),
    "POST /v1/conversations/{conversation_id}/support-grants": (
        "only support users get grants (`not_a_support_user`)",
        ["422"],
    ),
    "POST /v1/attachments": (
        "the file's content decides: empty (422), no accepted kind (415)",
        ["415", "422"],
    ),
    "POST /v1/inbound/email": ("the body must be an email (`empty_email`)", ["422"]),
    "PUT /v1/users/{user_id}": (
        "email-validator refuses special-use domains (`.local`, `.test`...) that the `email` "
        "format allows",
        ["422"],
    ),
}
_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]

TRACKING = json.loads(
    (Path(__file__).parents[2] / "../shared/data/tracking-numbers/valid.json").read_text()
)


@dataclass
class Seeded:
    """What exists in the fuzzed marketplace, by path parameter name."""

    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        self.ids.setdefault(name, []).append(value)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def _ok(response: requests.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    return body


def seed(app: FastAPI) -> Seeded:
    """Users, transactions, conversations with messages, an offer, a shipping update, an upload,
    a flagged message in the moderation queue, a dispute and a support grant."""
    data = Seeded()
    server = {"Authorization": f"Bearer {SERVER_KEY}"}
    with st_asgi.get_client(app) as http:

        def put(path: str, body: dict[str, Any]) -> dict[str, Any]:
            return _ok(http.put(path, json=body, headers=server), 200, 201)

        for user_id, support in (
            ("alice", False),
            ("bob", False),
            ("dave", False),
            ("sam", True),
            (PROBE_USER, False),
        ):
            put(
                f"/v1/users/{user_id}",
                {
                    "display_name": user_id.title(),
                    "email": f"{user_id}@example.com",
                    "is_support": support,
                },
            )
            token = _ok(
                http.post(
                    f"/v1/users/{user_id}/tokens", json={"ttl_seconds": 86400}, headers=server
                ),
                201,
            )["token"]
            data.tokens[user_id] = token
            if user_id != PROBE_USER:
                data.add("user_id", user_id)
        for transaction_id, buyer in (("t-fuzz-1", "alice"), ("t-fuzz-2", "dave")):
            put(
                f"/v1/transactions/{transaction_id}",
                {
                    "buyer_id": buyer,
                    "seller_id": "bob",
                    "title": "1921 Morgan dollar",
                    "status": "paid",
                    "amount_minor": 12500,
                    "currency": "USD",
                },
            )
            data.add("transaction_id", transaction_id)

        def as_user(user_id: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {data.tokens[user_id]}"}

        alice, bob = as_user("alice"), as_user("bob")
        conversation = _ok(http.get("/v1/transactions/t-fuzz-1/conversation", headers=alice), 200)
        cid = conversation["id"]
        data.add("conversation_id", cid)
        upload = _ok(
            http.post(
                "/v1/attachments", files={"file": ("coin.png", _png(), "image/png")}, headers=alice
            ),
            201,
        )
        data.add("attachment_id", upload["id"])
        for sender, body, extra in (
            (alice, "Is it still available?", {}),
            (bob, "Yes, ships tomorrow.", {}),
            (alice, "Here is the one I mean", {"attachment_ids": [upload["id"]]}),
            (bob, "Text me on 415 555 0134", {}),  # flagged: lands in the moderation queue
        ):
            message = _ok(
                http.post(
                    f"/v1/conversations/{cid}/messages",
                    json={"body": body, **extra},
                    headers=sender,
                ),
                201,
            )
            data.add("message_id", message["id"])
        offer = _ok(
            http.post(
                f"/v1/conversations/{cid}/offers",
                json={"amount_minor": 11000, "currency": "USD"},
                headers=alice,
            ),
            201,
        )
        data.add("offer_id", offer["id"])
        # The seller's counteroffer: one the fuzzed user (alice) can accept, decline, counter.
        offer = _ok(
            http.post(
                f"/v1/offers/{offer['id']}/counter",
                json={"amount_minor": 11500, "currency": "USD"},
                headers=bob,
            ),
            201,
        )
        data.add("offer_id", offer["id"])
        tracking = TRACKING["formats"][0]["valid"][0]
        _ok(
            http.post(
                f"/v1/conversations/{cid}/shipping-updates",
                json={"tracking_number": tracking},
                headers=bob,
            ),
            200,
            201,
        )
        direct = _ok(
            http.post("/v1/conversations", json={"user_id": "dave"}, headers=alice), 200, 201
        )
        data.add("conversation_id", direct["id"])
        queue = _ok(http.get("/v1/moderation/queue", headers=server), 200)
        for item in queue["items"]:
            data.add("item_id", item["id"])
        _ok(
            http.post(
                "/v1/transactions/t-fuzz-2/dispute",
                json={"reason": "never arrived"},
                headers=server,
            ),
            201,
        )
        _ok(
            http.post(
                f"/v1/conversations/{cid}/support-grants",
                json={"user_id": "sam", "reason": "fuzz"},
                headers=server,
            ),
            201,
        )
    return data


@dataclass
class Tally:
    """Cases sent in one run, by status, and the operations that never got past a refusal."""

    name: str
    cases: int = 0
    probes: int = 0
    probed: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)
    accepted: set[str] = field(default_factory=set)

    def record(self, label: str, status: int) -> None:
        self.cases += 1
        self.statuses[status] += 1
        self.operations.add(label)
        if status < 300:
            self.accepted.add(label)

    def report(self) -> str:
        by_status = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        never = ", ".join(sorted(self.operations - self.accepted)) or "none"
        return (
            f"fuzz [{self.name}]: {self.cases} cases over {len(self.operations)} operations, "
            f"{self.probes} credential probes (seed {SEED}); statuses {by_status}; "
            f"never accepted: {never}"
        )


def _config(token: str, database_url: str) -> schemathesis.Config:
    stateful = [
        {
            "include-name": label,
            "checks": {"positive_data_acceptance": {"expected-statuses": _ACCEPTED + statuses}},
        }
        for label, (_, statuses) in STATEFUL_OPERATIONS.items()
    ]
    return schemathesis.Config.from_dict(
        {
            "operations": stateful,
            "seed": SEED,
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": _SEED != "random",
            },
            "phases": {
                "coverage": {
                    # The coverage phase's boundary and schema-violating cases are refused in
                    # validation, before any query: one database shows them. PostgreSQL gets
                    # the fuzzing phase, whose accepted cases reach it.
                    "enabled": DEEP or database_url.startswith("sqlite"),
                    # 405 and its Allow header come from the router, the same for every path:
                    # two methods per operation show it, the rest only cost time.
                    "unexpected-methods": ALL_METHODS if DEEP else ["options", "trace"],
                },
                "stateful": {"enabled": False},
            },
            "checks": {"enabled": True},
            "auth": {"openapi": {"HTTPBearer": {"bearer": token}}},
        }
    )


@pytest.fixture(autouse=True)
def _nodeid_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 renames the running test through `node._nodeid`, which pytest 9.2 no
    longer has; give it one to read and write (reports keep pytest's own id)."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture
def fuzz_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        server_api_key=SERVER_KEY,
        secret_key="fuzz-secret-key-that-is-long-enough-for-hs256",
        public_url="http://testserver",
        log_json=False,
        log_level="CRITICAL",
        worker_embedded=False,
        rate_limits=False,
        direct_messages=True,
        shield_policy={"phone": "flag"},
        media_dir=tmp_path / "media",
        mail_dir=tmp_path / "mail",
    )


@pytest.fixture
def fuzz_app(fuzz_settings: Settings) -> Iterator[tuple[FastAPI, Seeded]]:
    app = create_app(fuzz_settings)
    try:
        yield app, seed(app)
    finally:
        st_asgi.shutdown_lifespans()


def _schema(app: FastAPI, token: str) -> schemathesis.BaseSchema:
    config = _config(token, app.state.settings.database_url)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@pytest.fixture
def server_schema(fuzz_app: tuple[FastAPI, Seeded]) -> schemathesis.BaseSchema:
    app, _ = fuzz_app
    return _schema(app, SERVER_KEY)


@pytest.fixture
def client_schema(fuzz_app: tuple[FastAPI, Seeded]) -> schemathesis.BaseSchema:
    app, seeded = fuzz_app
    return _schema(app, seeded.tokens["alice"])


def _tally(request: pytest.FixtureRequest, name: str) -> Iterator[Tally]:
    tally = Tally(f"{name}, {request.node.callspec.id}")
    yield tally
    # The figures, also without -s (under xdist: in the JUnit properties).
    request.node.user_properties.append(("fuzz_cases", tally.cases))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(tally.report())
    # Nothing run is nothing proved.
    assert tally.cases >= len(tally.operations) > 0


@pytest.fixture
def server_tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    yield from _tally(request, "server key")


@pytest.fixture
def client_tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    yield from _tally(request, "user token")


# Body fields that name objects, and the kind of object they name.
_BODY_REFERENCES = {
    "user_id": "user_id",
    "buyer_id": "user_id",
    "seller_id": "user_id",
    "message_id": "message_id",
    "conversation_id": "conversation_id",
}


def _aim_at_seeded(case: schemathesis.Case, seeded: Seeded) -> None:
    """Half the cases name objects that exist, so the fuzzer gets past 404. Only where the
    values were generated valid: a schema-violating part must stay one."""
    rng = random.Random(repr(case.path_parameters) + repr(case.body))
    if rng.random() < 0.5:
        return

    def negative(location: ParameterLocation) -> bool:
        return case.meta is not None and case.meta.is_negative_at(location)

    if not negative(ParameterLocation.PATH):
        for name in list(case.path_parameters or {}):
            if name in seeded.ids:
                case.path_parameters[name] = rng.choice(seeded.ids[name])
    if isinstance(case.body, dict) and not negative(ParameterLocation.BODY):
        for name, kind in _BODY_REFERENCES.items():
            if isinstance(case.body.get(name), str | int) and kind in seeded.ids:
                case.body[name] = rng.choice(seeded.ids[kind])


@schemathesis.serializer("message/rfc822")
def _rfc822(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """POST /v1/inbound/email takes the raw reply email."""
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


def _resend(app: FastAPI, response: schemathesis.Response, credential: str | None) -> int:
    """The same request again, without a credential or with another one."""
    request = response.request.copy()
    del request.headers["Authorization"]
    if credential is not None:
        request.headers["Authorization"] = f"Bearer {credential}"
    with st_asgi.get_client(app) as http:
        return http.send(request).status_code


def _refused_before_auth(response: schemathesis.Response) -> bool:
    """A body that is not JSON at all is refused before anyone is asked who they are (FastAPI
    reads the body first); that tells an outsider nothing."""
    if response.status_code != 422:
        return False
    errors = json.loads(response.content or b"{}").get("errors") or []
    return any(error.get("type") == "json_invalid" for error in errors)


def _probe_auth(
    app: FastAPI,
    case: schemathesis.Case,
    response: schemathesis.Response,
    other: str,
    tally: Tally,
) -> None:
    """Without a credential: 401. With the other kind: 401 (404 on moderation for a user who
    is not support: the design hides that API)."""
    operation = case.operation
    if not operation.definition.raw.get("security") or response.status_code == 405:
        return
    allowed_without = {401} | ({422} if _refused_before_auth(response) else set())
    without = _resend(app, response, None)
    assert without in allowed_without, f"{operation.label} answered {without} without a credential"
    hidden = "moderation" in (operation.tags or [])
    allowed_other = ({404} if hidden and other != SERVER_KEY else {401}) | (
        {422} if _refused_before_auth(response) else set()
    )
    with_other = _resend(app, response, other)
    assert with_other in allowed_other, (
        f"{operation.label} answered {with_other} to the other kind of credential"
    )
    tally.probes += 2


def _run(app: FastAPI, case: schemathesis.Case, seeded: Seeded, tally: Tally, other: str) -> None:
    _aim_at_seeded(case, seeded)
    response = case.call_and_validate()
    tally.record(case.operation.label, response.status_code)
    # Probing every case would double the run: probe what was let through, and a few refusals
    # per operation (a 422 there must not come before the 401).
    label = case.operation.label
    if "Authorization" in response.request.headers and (
        response.status_code < 300 or tally.probed[label] < PROBES_PER_OPERATION
    ):
        tally.probed[label] += 1
        _probe_auth(app, case, response, other, tally)


# Filters go on the lazy schema: it replaces those of the schema its fixture returns.
server = (
    schemathesis.pytest.from_fixture("server_schema")
    .include(tag_regex=SERVER_TAGS)
    .exclude(path=OUT_OF_SCOPE)
)
client = (
    schemathesis.pytest.from_fixture("client_schema")
    .include(tag_regex=CLIENT_TAGS)
    .exclude(path=OUT_OF_SCOPE)
    .exclude(name=HTML_PAGES)
)


# A deeper run takes longer than the suite's 120 s per test.
DEADLINE = pytest.mark.timeout(max(120, 20 * EXAMPLES))


@DEADLINE
@server.parametrize()
def test_server_api_with_the_server_key(
    case: schemathesis.Case, fuzz_app: tuple[FastAPI, Seeded], server_tally: Tally
) -> None:
    app, seeded = fuzz_app
    _run(app, case, seeded, server_tally, other=seeded.tokens[PROBE_USER])


@DEADLINE
@client.parametrize()
def test_client_api_with_a_user_token(
    case: schemathesis.Case, fuzz_app: tuple[FastAPI, Seeded], client_tally: Tally
) -> None:
    app, seeded = fuzz_app
    _run(app, case, seeded, client_tally, other=SERVER_KEY)
