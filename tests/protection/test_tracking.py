"""Tracking numbers: every valid.json number is recognised and never flagged by the shield."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import IN_CI

from tradetalk.protection.detector import Detector
from tradetalk.protection.tracking import match_tracking, tracking_candidates

# shared/ sits beside the repository (so also in CI's fresh clone).
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "tracking-numbers" / "valid.json"


def _numbers() -> list[tuple[str, str, str]]:
    if not DATA.exists():
        return []
    formats = json.loads(DATA.read_text(encoding="utf-8"))["formats"]
    return [(f["courier"], f["format"], v) for f in formats for v in f["valid"]]


NUMBERS = _numbers()
pytestmark = pytest.mark.skipif(
    not NUMBERS and not IN_CI, reason="shared/data/tracking-numbers not found"
)
SHORT = {"United States Postal Service": "USPS", "S10 International Standard": "post"}


def test_data_set_is_complete() -> None:
    assert len(NUMBERS) == 192
    assert len({c for c, _, _ in NUMBERS}) == 18


@pytest.mark.parametrize(("courier", "fmt", "number"), NUMBERS)
def test_every_valid_number_is_recognised(courier: str, fmt: str, number: str) -> None:
    match = match_tracking(number)
    assert match is not None, (fmt, number)
    assert courier in {m.carrier for m in tracking_candidates(number)}
    assert match.number == "".join(number.split()).upper()


@pytest.mark.parametrize(("courier", "fmt", "number"), NUMBERS)
def test_shipping_update_is_never_flagged(courier: str, fmt: str, number: str) -> None:
    carrier = SHORT.get(courier, courier)
    detector = Detector()
    for text in (
        f"Shipped via {carrier}, tracking {number.strip()}",
        f"{carrier} tracking number: {number}",
        f"Tracking: {number.strip()}",
    ):
        assert detector.scan(text) == [], text


@pytest.mark.parametrize(
    "number",
    ["1Z5R89390357567128", "9400111206206406260788", "986578788856", "RB123456786GB", "12345"],
)
def test_wrong_check_digit_is_rejected(number: str) -> None:
    assert match_tracking(number) is None


def test_match_gives_carrier_url() -> None:
    ups = match_tracking("1Z5R89390357567127")
    assert ups is not None and ups.carrier == "UPS" and ups.checked
    assert ups.url == "https://www.ups.com/track?tracknum=1Z5R89390357567127"
    royal = match_tracking("RB123456785GB")
    assert royal is not None and royal.url is not None and "royalmail" in royal.url
