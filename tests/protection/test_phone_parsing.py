"""The shield's own parsing of national numbers with a trunk "0" (`_parse_national_trunk`)
against `phonenumbers.parse`: the same number whenever it answers.

Random digit strings starting with "0" of every length, and each description's example number
with a "0" (or "00", or the region's national prefix) in front and variations of it, for the
regions the shield asks about and, with fewer numbers, every region the library knows.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest

from tradetalk.protection import phones as ph
from tradetalk.protection.detector import DetectorConfig

_DESCS = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip", "uan")
_SHIELD_REGIONS = sorted({DetectorConfig().default_region.upper(), *ph._OTHER_REGIONS})
_ALL_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _library_parse(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None


def _digits(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(length))


def _numbers(region: str, rng: random.Random, per_length: int, variations: int) -> list[str]:
    found = ["0" + _digits(rng, n) for n in range(1, 18) for _ in range(per_length)]
    found += ["00", "000", "0" * 17, "0" * 18]
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert meta is not None
    for name in _DESCS:
        desc = getattr(meta, name)
        if desc is None or not desc.example_number:
            continue
        example = desc.example_number
        for head in ("0", "00", "01", "0" + (meta.national_prefix or "")):
            found.append(head + example)
            for _ in range(variations):
                kept = rng.randrange(len(example) + 1)
                tail = _digits(rng, len(example) - kept + rng.randrange(-1, 2))
                found.append(head + example[:kept] + tail)
    return [n for n in found if n.startswith("0")]


def _assert_same(region: str, numbers: list[str]) -> int:
    """Compare on `numbers`; returns how many the shortcut answered."""
    answered = 0
    for digits in numbers:
        built = ph._parse_national_trunk(digits, region)
        if built is not None:
            answered += 1
            assert built == _library_parse(digits, region), (region, digits)
        assert ph._parse(digits, region) == _library_parse(digits, region), (region, digits)
    return answered


@pytest.mark.parametrize("region", _SHIELD_REGIONS)
def test_national_trunk_parse_matches_the_library_for_the_shields_regions(region: str) -> None:
    rng = random.Random(f"trunk-{region}")
    numbers = _numbers(region, rng, per_length=60, variations=20)
    answered = _assert_same(region, numbers)
    if region not in ("BR", "US"):  # (a transform rule; the NANP has its own shortcut)
        assert answered > len(numbers) // 2


def test_national_trunk_parse_matches_the_library_for_every_region() -> None:
    rng = random.Random("trunk-every-region")
    answered = 0
    for region in _ALL_REGIONS:
        answered += _assert_same(region, _numbers(region, rng, per_length=3, variations=2))
    assert answered > 1000


@pytest.mark.parametrize("region", ["gb", "001", "XX", "ZZ"])
def test_national_trunk_parse_leaves_odd_region_codes_to_the_library(region: str) -> None:
    assert ph._parse_national_trunk("07700900461", region) is None
    assert ph._parse("07700900461", region) == _library_parse("07700900461", region)
