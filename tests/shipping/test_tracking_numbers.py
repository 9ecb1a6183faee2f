"""Every real-format test number of the shared data set is recognised with its carrier; a number
with a wrong check digit, or claimed for the wrong carrier, is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tradetalk.errors import InvalidRequest
from tradetalk.shipping.schemas import ShippingUpdateCreate
from tradetalk.shipping.service import CarrierMismatch, InvalidTrackingNumber, check_tracking

DATA = Path("/work/shared/data/tracking-numbers/valid.json")
if not DATA.exists():  # CI has shared/ beside the clone
    DATA = Path(__file__).resolve().parents[3] / "shared/data/tracking-numbers/valid.json"

VALID = [
    (fmt["courier"], fmt["format"], number)
    for fmt in json.loads(DATA.read_text())["formats"]
    for number in fmt["valid"]
]


def _check(number: str, carrier: str | None = None) -> tuple[str, str, str | None]:
    found = check_tracking(ShippingUpdateCreate(tracking_number=number, carrier=carrier))
    return found.carrier, found.match.number, found.match.url


def test_the_data_set_is_all_there() -> None:
    assert len(VALID) == 192
    assert len({courier for courier, _, _ in VALID}) == 18


@pytest.mark.parametrize(("courier", "fmt", "number"), VALID)
def test_every_valid_number_is_recognised_for_its_carrier(
    courier: str, fmt: str, number: str
) -> None:
    # Naming the carrier picks it among formats that share a shape (12-digit FedEx/Purolator).
    carrier, compact, _ = _check(number, courier)
    assert compact == "".join(number.split()).upper()
    if fmt != "S10":
        assert carrier == courier


@pytest.mark.parametrize(
    ("number", "carrier", "url"),
    [
        ("1Z999AA10123456784", "UPS", "https://www.ups.com/track?tracknum=1Z999AA10123456784"),
        (
            "9400 1112 0108 0805 4830 16",
            "United States Postal Service",
            "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111201080805483016",
        ),
        ("3318810025", "DHL", "https://www.dhl.com/en/express/tracking.html?AWB=3318810025"),
    ],
)
def test_the_carrier_and_its_tracking_link_come_from_the_number(
    number: str, carrier: str, url: str
) -> None:
    assert _check(number)[0] == carrier
    assert _check(number)[2] == url


def test_royal_mail_numbers_are_named_by_their_country_and_linked() -> None:
    valid = next(n for c, f, n in VALID if f == "S10" and n.replace(" ", "").endswith("GB"))
    carrier, compact, url = _check(valid)
    assert carrier == "Royal Mail"
    assert url is not None and compact in url and "royalmail.com" in url


@pytest.mark.parametrize(
    "number",
    [
        "1Z999AA10123456785",  # UPS, check digit off by one
        "9400 1112 0108 0805 4830 17",  # USPS IMpb, wrong check digit
        "3318810026",  # DHL Express, mod 7 fails
        "hello world",
        "call me 4155550123",
        "",
    ],
)
def test_numbers_that_fail_their_check_are_refused(number: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_tracking(ShippingUpdateCreate.model_construct(tracking_number=number, carrier=None))
    assert isinstance(refused.value, InvalidTrackingNumber)
    assert refused.value.code == "invalid_tracking_number"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ups", "UPS"),
        ("United Parcel Service", "UPS"),
        ("USPS", "United States Postal Service"),
        ("U.S.P.S.", "United States Postal Service"),
    ],
)
def test_sellers_name_carriers_their_own_way(given: str, expected: str) -> None:
    number = "1Z999AA10123456784" if expected == "UPS" else "9400111201080805483016"
    assert _check(number, given)[0] == expected


def test_a_number_claimed_for_the_wrong_carrier_is_refused() -> None:
    with pytest.raises(CarrierMismatch) as refused:
        _check("1Z999AA10123456784", "FedEx")
    assert refused.value.extra == {"carriers": ["UPS"]}


def test_a_shared_shape_resolves_to_the_named_carrier() -> None:
    purolator = "287809468872"  # also passes the FedEx Express 12-digit check
    assert _check(purolator)[0] == "FedEx"
    assert _check(purolator, "Purolator")[0] == "Purolator"
