"""The pages in a real browser (Debian's chromium driven by Playwright) against a real server.

Screenshots go to test-artifacts/web/ for people to look at."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.conftest import IN_CI, SECRET, SERVER_KEY
from tradetalk.app import create_app
from tradetalk.config import Settings
from tradetalk.migrate import upgrade

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "web"
WAIT_MS = 10_000  # how long an expectation waits for the page (a guard, not a timing assert)


def _require_browser() -> None:
    missing = None
    if importlib.util.find_spec("playwright") is None:
        missing = "the playwright package is not installed"
    elif shutil.which(CHROMIUM) is None:
        missing = f"{CHROMIUM} is not installed"
    if missing is None:
        return
    if IN_CI:
        pytest.fail(f"{missing}; CI runs every tier")
    pytest.skip(missing)


@dataclass
class LiveServer:
    """The app served by uvicorn on a loopback port, with a server-key client to set it up."""

    url: str
    api: httpx.Client

    def user(self, name: str, *, is_support: bool = False) -> str:
        user_id = f"{name.lower().split()[0]}-{uuid.uuid4().hex[:6]}"
        response = self.api.put(
            f"/v1/users/{user_id}", json={"display_name": name, "is_support": is_support}
        )
        assert response.status_code == 201, response.text
        return user_id

    def token(self, user_id: str) -> str:
        response = self.api.post(f"/v1/users/{user_id}/tokens")
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token

    def as_user(self, user_id: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token(user_id)}"}
        )

    def deal(self, title: str) -> tuple[str, str, int]:
        """A transaction between a new buyer and seller; returns them and its conversation."""
        buyer, seller = self.user("Dana Buyer"), self.user("Sam Seller")
        deal_id = f"ord-{uuid.uuid4().hex[:8]}"
        response = self.api.put(
            f"/v1/transactions/{deal_id}",
            json={
                "buyer_id": buyer,
                "seller_id": seller,
                "title": title,
                "status": "paid",
                "amount_minor": 12500,
                "currency": "USD",
            },
        )
        assert response.status_code == 201, response.text
        with self.as_user(buyer) as client:
            conversation = client.get(f"/v1/transactions/{deal_id}/conversation").json()
        return buyer, seller, int(conversation["id"])

    def login_link(self, user_id: str) -> str:
        response = self.api.post(f"/v1/users/{user_id}/login-links")
        assert response.status_code == 201, response.text
        url: str = response.json()["url"]
        return url


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real server on a fresh SQLite database, stopped after the module's tests."""
    _require_browser()
    database = tmp_path_factory.mktemp("web") / "tradetalk.db"
    upgrade(f"sqlite:///{database}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite:///{database}",
        server_api_key=SERVER_KEY,
        secret_key=SECRET,
        public_url=url,
        log_json=False,
        log_level="WARNING",
        worker_embedded=False,
        media_dir=tmp_path_factory.mktemp("media"),
        ocr=False,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", ws_ping_interval=None)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SERVER_KEY}"})
    yield LiveServer(url, api)
    api.close()
    server.should_exit = True
    thread.join(timeout=20)
    sock.close()


@pytest.fixture(scope="module")
def chromium(live_server: LiveServer) -> Iterator[Any]:
    """Debian's chromium, headless."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def pages(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """Opens pages, each in its own browser context (its own cookies); closes them after."""
    contexts: list[Any] = []
    errors: list[str] = []

    def _open(width: int = 1200, height: int = 800) -> Any:
        context = chromium.new_context(
            base_url=live_server.url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        # Script errors and Content-Security-Policy violations show up here.
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        return page

    yield _open
    problems = [e for e in errors if "Failed to load resource" not in e]
    assert not problems, f"the pages logged errors: {problems}"
    for context in contexts:
        context.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, server: LiveServer, user_id: str) -> None:
    page.goto(server.login_link(user_id))
    page.wait_for_url("**/inbox")


def _open_thread(page: Any, conversation_id: int) -> None:
    page.goto(f"/inbox/{conversation_id}")
    page.locator("body[data-live='true']").wait_for()


def test_buyer_and_seller_talk_live(live_server: LiveServer, pages: Any) -> None:
    from playwright.sync_api import expect

    buyer, seller, conversation = live_server.deal("1921 Morgan silver dollar, MS-63")
    buyer_page, seller_page = pages(), pages()
    _sign_in(buyer_page, live_server, buyer)
    _sign_in(seller_page, live_server, seller)
    expect(seller_page.locator("h1.visually-hidden")).to_have_text("Inbox")
    _open_thread(buyer_page, conversation)
    _open_thread(seller_page, conversation)

    buyer_page.get_by_label("Message", exact=True).fill("Is the coin still in its original holder?")
    expect(seller_page.locator("#typing")).to_contain_text("is typing")
    buyer_page.get_by_role("button", name="Send").click()
    expect(seller_page.locator("#thread .item.theirs .text")).to_have_text(
        ["Is the coin still in its original holder?"]
    )
    expect(buyer_page.get_by_label("Message", exact=True)).to_have_value("")
    seller_row = seller_page.locator(f"li.conversation[data-conversation-id='{conversation}']")
    expect(seller_row.locator(".preview")).to_have_text("Is the coin still in its original holder?")

    markup = '<b>bold</b> <img src=x onerror="document.title=1"> <script>alert(1)</script>'
    seller_page.get_by_label("Message", exact=True).fill(markup)
    seller_page.get_by_role("button", name="Send").click()
    expect(buyer_page.locator("#thread .item.theirs .text")).to_have_text([markup])
    assert buyer_page.locator("#thread b, #thread script, #thread .text img").count() == 0
    assert buyer_page.title() != "1"
    expect(seller_page.locator("#thread .seen")).to_have_count(1)
    _shot(seller_page, "thread-seller")
    _shot(buyer_page, "thread-buyer")

    buyer_page.reload()
    expect(buyer_page.locator("#thread .item .text").last).to_have_text(markup)


def test_contact_details_are_refused_in_place(live_server: LiveServer, pages: Any) -> None:
    from playwright.sync_api import expect

    buyer, _, conversation = live_server.deal("Air Jordan 1 Retro High OG, size 10.5")
    page = pages()
    _sign_in(page, live_server, buyer)
    _open_thread(page, conversation)
    draft = "Text me on 415 555 0134 and we skip the fees"
    page.get_by_label("Message", exact=True).fill(draft)
    expect(page.locator("#shield-warning")).to_be_visible()
    page.get_by_role("button", name="Send").click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("phone")
    expect(page.get_by_label("Message", exact=True)).to_have_value(draft)
    expect(page.locator("#thread .item")).to_have_count(0)
    expect(page.locator("#shield-warning")).to_be_hidden()
    _shot(page, "refusal")

    # Support resolves it from the console: the original text, the finding highlighted.
    console = pages()
    _sign_in(console, live_server, live_server.user("Gus Support", is_support=True))
    console.get_by_role("link", name="Support").click()
    item = console.locator(".queue-item").filter(has_text="skip the fees")
    expect(item.locator("mark.finding[title='phone']")).to_contain_text("415 555 0134")
    _shot(console, "support-queue")
    item.get_by_role("button", name="Dismiss").click()
    expect(console.locator(".queue-item").filter(has_text="skip the fees")).to_have_count(0)


def test_an_offer_is_accepted_from_the_page(live_server: LiveServer, pages: Any) -> None:
    from playwright.sync_api import expect

    buyer, seller, conversation = live_server.deal("Canon AE-1 Program with 50mm f/1.8")
    with live_server.as_user(buyer) as client:
        made = client.post(
            f"/v1/conversations/{conversation}/offers",
            json={"amount_minor": 17500, "currency": "USD", "note": "Would you take $175?"},
        )
        assert made.status_code == 201, made.text
    buyer_page, seller_page = pages(), pages()
    _sign_in(buyer_page, live_server, buyer)
    _sign_in(seller_page, live_server, seller)
    _open_thread(buyer_page, conversation)
    _open_thread(seller_page, conversation)
    expect(seller_page.locator(".offer-amount")).to_have_text("USD 175.00")
    _shot(seller_page, "offer-open")
    seller_page.get_by_role("button", name="Accept").click()
    expect(seller_page.locator("[data-role='offer-status']")).to_have_text("Accepted")
    # The buyer's page follows without a reload.
    expect(buyer_page.locator("[data-role='offer-status']")).to_have_text("Accepted")
    with live_server.as_user(buyer) as client:
        offer = client.get(f"/v1/offers/{made.json()['id']}").json()
    assert offer["status"] == "accepted"

    seller_page.get_by_role("link", name="Dashboard").click()
    expect(seller_page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(seller_page.locator(".waiting li a")).to_have_count(1)  # the buyer's offer waits
    seller_page.locator("body[data-live='true']").wait_for()
    unread = int(seller_page.locator("#unread-messages").inner_text())
    buyer_page.get_by_label("Message", exact=True).fill("Great, thank you!")
    buyer_page.get_by_role("button", name="Send").click()
    expect(seller_page.locator("#unread-messages")).to_have_text(str(unread + 1))
    # The feed follows too, folded per conversation, without a reload.
    expect(seller_page.locator("#notification-feed li").first).to_contain_text("Great, thank you!")
    _shot(seller_page, "dashboard")


def test_inbox_on_a_phone(live_server: LiveServer, pages: Any) -> None:
    from playwright.sync_api import expect

    buyer, seller, conversation = live_server.deal("Leica M6, black chrome")
    with live_server.as_user(buyer) as client:
        client.post(
            f"/v1/conversations/{conversation}/messages",
            json={"body": "Hi! Has the rangefinder been calibrated recently?"},
        )
    page = pages(width=390, height=800)
    _sign_in(page, live_server, seller)
    row = page.locator(f"li.conversation[data-conversation-id='{conversation}']")
    expect(row.locator("[data-role='badge']")).to_contain_text("1")
    _shot(page, "inbox-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out
    row.get_by_role("link").click()
    expect(page.locator("#thread .item .text")).to_have_text(
        ["Hi! Has the rangefinder been calibrated recently?"]
    )
    expect(page.locator(".list-pane")).to_be_hidden()
    _shot(page, "thread-phone")
    # The thread's tools fit on a phone: asking support for help stays within the screen.
    page.get_by_text("More", exact=True).click()
    reason = page.get_by_label("Something wrong with this order? Ask support to step in")
    expect(reason).to_be_visible()
    box = reason.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(page, "thread-tools-phone")


def test_a_photo_is_uploaded_and_opened(
    live_server: LiveServer, pages: Any, tmp_path: Path
) -> None:
    from PIL import Image
    from playwright.sync_api import expect

    buyer, seller, conversation = live_server.deal("Omega Speedmaster 1969")
    photo = tmp_path / "caseback.png"
    Image.new("RGB", (640, 480), (180, 140, 60)).save(photo)
    buyer_page, seller_page = pages(), pages()
    _sign_in(buyer_page, live_server, buyer)
    _sign_in(seller_page, live_server, seller)
    _open_thread(buyer_page, conversation)
    _open_thread(seller_page, conversation)

    buyer_page.locator("#attach").set_input_files(str(photo))
    expect(buyer_page.locator("#uploads li[data-ready='true']")).to_have_count(1)
    buyer_page.get_by_label("Message", exact=True).fill("Here is the caseback")
    buyer_page.get_by_role("button", name="Send").click()

    thumbnail = seller_page.locator("#thread .attachments img")
    expect(thumbnail).to_have_attribute("alt", "caseback.png")
    expect(seller_page.locator("#thread .item.theirs .text")).to_have_text(["Here is the caseback"])
    # The page's CSP forbids eval, so no wait_for_function: wait for the image to finish
    # loading, then read its decoded size (evaluate runs over CDP, outside the CSP).
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("img => img.naturalWidth") > 0
    row = seller_page.locator(f"li.conversation[data-conversation-id='{conversation}']")
    expect(row.locator("[data-role='badge']")).to_be_hidden()  # being read right now
    _shot(seller_page, "attachment")
    with seller_page.expect_popup() as popup:
        thumbnail.click()
    opened = popup.value
    opened.wait_for_load_state()
    assert "/web/attachments/" in opened.url
    size = opened.evaluate("[document.images[0].naturalWidth, document.images[0].naturalHeight]")
    assert size == [640, 480]


def test_a_withdrawn_message_and_a_tracking_number_reach_the_other_side_live(
    live_server: LiveServer, pages: Any
) -> None:
    from playwright.sync_api import expect

    buyer, seller, conversation = live_server.deal("Nikon F3 with 50mm f/1.4")
    buyer_page, seller_page = pages(), pages()
    _sign_in(buyer_page, live_server, buyer)
    _sign_in(seller_page, live_server, seller)
    _open_thread(buyer_page, conversation)
    _open_thread(seller_page, conversation)

    buyer_page.get_by_label("Message", exact=True).fill("Sorry, wrong conversation")
    buyer_page.get_by_role("button", name="Send").click()
    expect(seller_page.locator("#thread .item.theirs .text")).to_have_text(
        ["Sorry, wrong conversation"]
    )
    mine = buyer_page.locator("#thread .item.mine")
    expect(mine.get_by_text("Edit")).to_be_visible()
    buyer_page.once("dialog", lambda dialog: dialog.accept())
    mine.get_by_role("button", name="Withdraw").click()
    expect(seller_page.locator("#thread .item.theirs .withdrawn")).to_have_text(
        "This message was withdrawn."
    )
    expect(buyer_page.locator("#thread .item.mine .withdrawn")).to_have_count(1)

    seller_page.get_by_text("Add a tracking number").click()
    seller_page.get_by_label("Tracking number").fill("1Z999AA10123456784")
    seller_page.get_by_role("button", name="Post the shipping update").click()
    expect(buyer_page.locator("#thread .shipping .tracking")).to_have_text("1Z999AA10123456784")
    expect(buyer_page.get_by_role("link", name="Track the parcel")).to_be_visible()
    _shot(buyer_page, "withdrawn-and-shipped")
