"""Web security: cookies, CSRF on every form, CSP on every page, framing, HSTS only over TLS,
tokens the operator can revoke all at once, and secrets that never reach the logs."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from websockets.asyncio.client import connect

from tests.conftest import SERVER_KEY as TEST_KEY
from tests.fixtures.marketplace import Marketplace, TestTransaction
from tests.reliability.served import SECRET_KEY, SERVER_KEY, free_port, served
from tests.web.conftest import Browser, csrf_of, login_link
from tradetalk.app import create_app
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock
from tradetalk.web import pages, support
from tradetalk.web import service as web_service

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@asynccontextmanager
async def app_with(settings: Settings, clock: ManualClock) -> AsyncIterator[Marketplace]:
    """An app of its own for these settings, and its marketplace."""
    application = create_app(settings, clock=clock)
    async with LifespanManager(application), Marketplace(application, server_key=TEST_KEY) as m:
        yield m


def page_routes() -> list[tuple[str, str, str]]:
    """(method, path, endpoint name) of every web page route."""
    return [
        (method, route.path, route.endpoint.__name__)
        for router in (pages.router, support.router)
        for route in router.routes
        for method in sorted(getattr(route, "methods", ()))
        if method != "HEAD"
    ]


# --- cookies and CSRF -------------------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize("public_url", ["http://talk.example.com", "https://talk.example.com"])
async def test_every_cookie_is_httponly_samesite_and_secure_behind_https(
    settings: Settings, clock: ManualClock, public_url: str
) -> None:
    https = public_url.startswith("https")
    update = {"public_url": public_url, "demo": True}
    async with app_with(settings.model_copy(update=update), clock) as market:
        user = await market.user()
        link = (await market.server.post(f"/v1/users/{user.id}/login-links")).json()["url"]
        browser = Browser(market)
        try:
            home = await browser.http.get("/")  # the demo's sign-in form: a CSRF cookie
            signed_in = await browser.http.get(link.removeprefix(public_url))
        finally:
            await browser.http.aclose()
    cookies = [
        *home.headers.get_list("set-cookie"),
        *signed_in.headers.get_list("set-cookie"),
    ]
    assert {c.split("=", 1)[0] for c in cookies} == {"tt_csrf", "tt_session"}
    for cookie in cookies:
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite", "path"} <= attributes, cookie
        assert "samesite=lax" in cookie.lower()
        assert ("secure" in attributes) is https, cookie


@SQLITE_ONLY
async def test_every_form_needs_the_csrf_token_of_its_own_session(
    settings: Settings, clock: ManualClock
) -> None:
    async with app_with(settings.model_copy(update={"demo": True}), clock) as market:
        deal = await market.transaction()
        cid = await market.conversation_id(deal)
        support_user = await market.user(is_support=True)
        victim, attacker = Browser(market), Browser(market)
        try:
            await victim.sign_in(support_user)
            await attacker.sign_in(deal.buyer)
            attackers_token = csrf_of((await attacker.http.get(f"/inbox/{cid}")).text)
            values = {
                "user_id": deal.buyer.id,
                "conversation_id": str(cid),
                "offer_id": "1",
                "action": "accept",
                "reply_id": "1",
                "item_id": "1",
            }
            posts = [(path, name) for method, path, name in page_routes() if method == "POST"]
            assert len(posts) >= 8
            for path, name in posts:
                url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
                if name == "restrict_or_lift":
                    url = url.removesuffix("/accept") + "/restrict"
                if name == "resolve":
                    url = url.removesuffix("/accept") + "/dismiss"
                for data in ({}, {"csrf_token": "forged"}, {"csrf_token": attackers_token}):
                    response = await victim.http.post(url, data=data)
                    assert response.status_code == 403, (name, data, response.text)
        finally:
            await victim.http.aclose()
            await attacker.http.aclose()


# --- CSP and framing --------------------------------------------------------------------------


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block in a page: inline scripts, handlers, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            if "src" not in names:
                self.found.append("<script> without src")
            self._in_script = True
        if tag == "style":
            self.found.append("<style> block")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name == "style":
                self.found.append(f"{tag} style=")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"{tag} {name}=javascript:")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append("inline script text")


def check_strict_page(response: httpx.Response) -> None:
    policy = response.headers["content-security-policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"], policy
    assert directives["frame-ancestors"] == ["'none'"], policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    if response.headers.get("content-type", "").startswith("text/html"):
        parser = InlineCode()
        parser.feed(response.text)
        assert parser.found == [], (str(response.url), parser.found)


async def _scene(market: Marketplace) -> tuple[TestTransaction, dict[str, str]]:
    """A deal with messages, an offer and a dispute, and path values to fill page routes."""
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Is the <b>box</b> included?")
    last = await market.send(deal.seller, cid, "Yes, and the papers.")
    offer = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/offers", json={"amount_minor": 11000, "currency": "USD"}
    )
    assert offer.status_code == 201, offer.text
    dispute = await market.server.post(
        f"/v1/transactions/{deal.id}/dispute", json={"reason": "Item not as described"}
    )
    assert dispute.status_code == 201, dispute.text
    return deal, {
        "conversation_id": str(cid),
        "message_id": str(last["id"]),
        "user_id": deal.buyer.id,
        "attachment_id": "att_missing",
        "secret": "not-a-real-link",
    }


@SQLITE_ONLY
async def test_every_page_has_a_strict_csp_and_no_inline_code(
    settings: Settings, clock: ManualClock
) -> None:
    async with app_with(settings.model_copy(update={"demo": True}), clock) as market:
        deal, values = await _scene(market)
        support_user = await market.user(is_support=True)
        seller_browser, support_browser = Browser(market), Browser(market)
        try:
            await seller_browser.sign_in(deal.seller)
            await support_browser.sign_in(support_user)
            checked: list[str] = []
            for method, path, name in page_routes():
                if method != "GET":
                    continue
                url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
                browser = support_browser if name in SUPPORT_PAGES else seller_browser
                response = await browser.http.get(url)
                assert response.status_code in (200, 404), (url, response.status_code)
                if name not in NOT_PAGES:
                    check_strict_page(response)
                checked.append(name)
            # Pages that answer 404 render an HTML page too; it is held to the same rules.
            check_strict_page(await seller_browser.http.get("/inbox/999999"))
            check_strict_page(await seller_browser.http.get("/web/login/used-or-made-up"))
        finally:
            await seller_browser.http.aclose()
            await support_browser.http.aclose()
    assert {"home", "inbox", "thread", "dashboard", "queue", "dispute_record"} <= set(checked)


SUPPORT_PAGES = {"queue", "user_record", "dispute_record", "transcript"}
# Not HTML: JSON, file bytes, a redirect; their own headers are checked elsewhere.
NOT_PAGES = {"stream_token", "attachment", "thumbnail", "transcript", "login"}


def test_the_templates_hold_no_inline_code() -> None:
    templates = sorted((Path(pages.__file__).parent / "templates").glob("*.html"))
    assert len(templates) >= 10
    for template in templates:
        parser = InlineCode()
        parser.feed(template.read_text())
        assert parser.found == [], (template.name, parser.found)


async def test_api_responses_cannot_be_framed_or_sniffed(market: Marketplace) -> None:
    for response in (
        await market.anonymous.get("/healthz"),
        await market.anonymous.get("/v1/conversations"),  # 401
        await market.server.get("/v1/users/nobody"),  # 404 or 405, either way a response
    ):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"


# --- HSTS -------------------------------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize("trusted_proxy", [False, True])
async def test_hsts_only_when_the_request_came_over_tls(
    settings: Settings, clock: ManualClock, trusted_proxy: bool
) -> None:
    update = {"trusted_proxies": ["127.0.0.1"] if trusted_proxy else []}
    async with app_with(settings.model_copy(update=update), clock) as market:
        plain = await market.anonymous.get("/healthz")
        forwarded = await market.anonymous.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        async with httpx.AsyncClient(
            transport=market.transport, base_url="https://testserver"
        ) as tls:
            direct = await tls.get("/healthz")
            page = await tls.get("/")
    assert "strict-transport-security" not in plain.headers
    assert direct.headers["strict-transport-security"] == "max-age=31536000"
    assert page.headers["strict-transport-security"] == "max-age=31536000"
    # A client cannot claim TLS for itself; only a proxy the operator trusts can.
    assert ("strict-transport-security" in forwarded.headers) is trusted_proxy


# --- revocation -------------------------------------------------------------------------------


async def test_the_operator_revokes_every_credential_of_a_user_at_once(
    market: Marketplace,
) -> None:
    user = await market.user()
    other = await market.user()
    second_token = await market.token(user.id, ttl_seconds=86400)
    browser, fresh_browser = Browser(market), Browser(market)
    try:
        await browser.sign_in(user)
        page_token = (await browser.http.get("/web/token")).json()["token"]
        unused_link = await login_link(market, user)
        assert (await user.client.get("/v1/conversations")).status_code == 200

        assert (await market.server.delete(f"/v1/users/{user.id}/tokens")).status_code == 204

        for token in (user.token, second_token, page_token):
            refused = await market.anonymous.get(
                "/v1/conversations", headers={"Authorization": f"Bearer {token}"}
            )
            assert refused.status_code == 401
            assert refused.json()["code"] == "unauthenticated"
        assert (await browser.http.get("/inbox")).status_code == 303  # the session is over
        assert (await fresh_browser.http.get(unused_link)).status_code == 404
        # New credentials work; nobody else was touched.
        await market.refresh(user)
        assert (await user.client.get("/v1/conversations")).status_code == 200
        assert (await fresh_browser.sign_in(user)).status_code == 303
        assert (await other.client.get("/v1/conversations")).status_code == 200
    finally:
        await browser.http.aclose()
        await fresh_browser.http.aclose()


# --- secrets and logs -------------------------------------------------------------------------


async def _drive(base_url: str, port: int) -> dict[str, str]:
    """Use every kind of credential against the server; returns them by name."""
    secrets: dict[str, str] = {}
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {SERVER_KEY}"}, timeout=10
    ) as operator:
        for user_id in ("ana", "ben"):
            made = await operator.put(
                f"/v1/users/{user_id}",
                json={"display_name": user_id.title(), "email": f"{user_id}@example.com"},
            )
            assert made.status_code in (200, 201), made.text
        deal = await operator.put(
            "/v1/transactions/t-1",
            json={"buyer_id": "ana", "seller_id": "ben", "title": "Lamp", "status": "paid"},
        )
        assert deal.status_code in (200, 201), deal.text
        ana = (await operator.post("/v1/users/ana/tokens")).json()["token"]
        ben = (await operator.post("/v1/users/ben/tokens")).json()["token"]
        link = (await operator.post("/v1/users/ana/login-links")).json()["url"]
        secrets |= {"ana token": ana, "ben token": ben, "login link": link.rsplit("/", 1)[1]}

        async with httpx.AsyncClient(base_url=base_url, timeout=10) as browser:
            signed_in = await browser.get(link.removeprefix(base_url))
            assert signed_in.status_code == 303
            secrets["session cookie"] = browser.cookies["tt_session"]
            page = await browser.get("/inbox")
            secrets["csrf token"] = csrf_of(page.text)
            secrets["page token"] = (await browser.get("/web/token")).json()["token"]
            assert (await browser.get(link.removeprefix(base_url))).status_code == 404

        headers = {"Authorization": f"Bearer {ana}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as client:
            cid = (await client.get("/v1/transactions/t-1/conversation")).json()["id"]
            sent = await client.post(
                f"/v1/conversations/{cid}/messages", json={"body": "Does it work on 220 V?"}
            )
            assert sent.status_code == 201, sent.text
            ws_url = base_url.replace("http", "ws") + f"/v1/events?token={ben}"
            async with connect(ws_url) as socket_:
                await socket_.send(json.dumps({"type": "typing", "conversation_id": cid}))
                await socket_.send("not json")
            async with connect(base_url.replace("http", "ws") + "/v1/events?token=forged.x.y"):
                pass
            # Refusals: a forged token, a revoked one, the server key where a user token goes.
            for bad in ("forged.x.y", SERVER_KEY):
                response = await client.get(
                    "/v1/conversations", headers={"Authorization": f"Bearer {bad}"}
                )
                assert response.status_code == 401
            await operator.delete("/v1/users/ben/tokens")
            response = await client.get(
                "/v1/conversations", headers={"Authorization": f"Bearer {ben}"}
            )
            assert response.status_code == 401
        # The worker tries to deliver the webhook and the email, and fails (nobody listens).
        for _ in range(100):
            deliveries = (await operator.get("/v1/webhooks/deliveries")).json()["items"]
            if any(d.get("attempts", 0) >= 1 or d.get("last_error") for d in deliveries):
                break
            await asyncio.sleep(0.1)
    return secrets


def test_secrets_never_reach_the_logs(tmp_path: Path) -> None:
    webhook_secret = "whsec_" + base64.b64encode(b"log-test-webhook-secret-32-bytes").decode()
    smtp_password = "smtp-pa55word-do-not-log"
    with served(
        tmp_path,
        log_level="DEBUG",
        rate_limits="false",
        webhook_url=f"http://127.0.0.1:{free_port()}/hooks?key=webhook-url-key",
        webhook_secret=webhook_secret,
        smtp_url=f"smtp://mailer:{smtp_password}@127.0.0.1:{free_port()}",
        notify_delay_seconds="0",
        worker_poll_seconds="0.2",
        outbox_backoff_seconds="0.2",
    ) as server:
        secrets = asyncio.run(_drive(server.base_url, server.port))
        log = server.log()
    secrets |= {
        "server key": SERVER_KEY,
        "secret key": SECRET_KEY,
        "webhook secret": webhook_secret,
        "webhook secret (bare)": webhook_secret.removeprefix("whsec_"),
        "smtp password": smtp_password,
    }
    # The log is there and busy: every request at DEBUG, the worker's failed deliveries.
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert sum(1 for line in lines if line.get("event") == "request") >= 15
    assert any(line.get("event") == "outbox item failed" for line in lines)
    leaked = {name for name, value in secrets.items() if value in log}
    assert leaked == set(), f"{sorted(leaked)} in the server log"
    for token in (secrets["ana token"], secrets["page token"]):
        assert token.rsplit(".", 1)[1] not in log  # not even a token's signature


@SQLITE_ONLY
async def test_an_error_while_following_a_link_does_not_log_the_link(
    settings: Settings,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(web_service, "do_redeem_login_link", broken)
    async with app_with(settings.model_copy(update={"log_json": True}), clock) as market:
        user = await market.user()
        url = await login_link(market, user)
        secret = url.rsplit("/", 1)[1]
        transport = httpx.ASGITransport(app=market.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            response = await web.get(url, headers={"Authorization": f"Bearer {user.token}"})
    assert response.status_code == 500
    logged = capsys.readouterr().err
    assert "unhandled error" in logged and "the database went away" in logged
    assert secret not in logged
    assert user.token not in logged
