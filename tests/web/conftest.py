"""Fixtures of the web page tests: signing a browser-like client in by link."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from tests.fixtures.marketplace import Marketplace, TestUser


async def login_link(market: Marketplace, user: TestUser) -> str:
    """A one-time sign-in link for the user, through the server API."""
    response = await market.server.post(f"/v1/users/{user.id}/login-links")
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class Browser:
    """A cookie-keeping client of the pages (in process), like a browser without scripts."""

    def __init__(self, market: Marketplace) -> None:
        self.market = market
        self.http = httpx.AsyncClient(
            transport=market.transport, base_url="http://testserver", follow_redirects=False
        )

    async def sign_in(self, user: TestUser) -> httpx.Response:
        """Follow a fresh sign-in link."""
        url = await login_link(self.market, user)
        return await self.http.get(url)


@pytest_asyncio.fixture
async def browser(market: Marketplace) -> AsyncIterator[Browser]:
    """A browser-like client; several can be made with `Browser(market)`."""
    client = Browser(market)
    yield client
    await client.http.aclose()
