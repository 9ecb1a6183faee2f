"""Behind https the session cookie is Secure."""

from __future__ import annotations

import pytest

from tests.fixtures.marketplace import Marketplace
from tests.web.conftest import Browser
from tradetalk.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A service published over https."""
    return settings.model_copy(update={"public_url": "https://talk.example.com"})


async def test_the_session_cookie_is_secure_behind_https(
    market: Marketplace, browser: Browser
) -> None:
    user = await market.user()
    link = (await market.server.post(f"/v1/users/{user.id}/login-links")).json()["url"]
    assert link.startswith("https://talk.example.com/web/login/")
    response = await browser.http.get(link.removeprefix("https://talk.example.com"))
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()
