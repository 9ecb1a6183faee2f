"""Demo mode: the home page lists the users, with a button to sign in as each."""

from __future__ import annotations

import pytest

from tests.fixtures.marketplace import Marketplace
from tests.web.conftest import Browser, csrf_of
from tradetalk.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The demo's settings."""
    return settings.model_copy(update={"demo": True})


async def test_the_demo_signs_in_as_a_listed_user(market: Marketplace, browser: Browser) -> None:
    ada = await market.user("seller-ada", name="Ada's Coin Cabinet")
    await market.user("support-gus", name="Gus (Support)", is_support=True)
    home = await browser.http.get("/")
    assert "Sign in as Ada&#39;s Coin Cabinet" in home.text
    assert "Gus (Support)" in home.text
    response = await browser.http.post(
        f"/web/demo-login/{ada.id}", data={"csrf_token": csrf_of(home.text)}
    )
    assert response.status_code == 303
    inbox = await browser.http.get("/inbox")
    assert inbox.status_code == 200 and "Ada&#39;s Coin Cabinet" in inbox.text


async def test_the_demo_sign_in_needs_the_pages_csrf_token(
    market: Marketplace, browser: Browser
) -> None:
    ada = await market.user("seller-ada")
    await browser.http.get("/")  # the visitor's CSRF cookie
    refused = await browser.http.post(f"/web/demo-login/{ada.id}", data={"csrf_token": "x"})
    assert refused.status_code == 403
    assert (await browser.http.get("/inbox")).status_code == 303
