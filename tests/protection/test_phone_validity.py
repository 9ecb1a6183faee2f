"""The shield's own validity check of a phone number against phonenumbers' (`_valid_in`,
`_valid_international`, `_national_significant_number`): the same answers over many numbers.

The check is built from the library's public metadata; these tests ask both about random digit
strings of every length a number may have, about each description's example number and about
variations of it (valid numbers are rare among random digits), for the regions the shield asks
about and, with fewer numbers, for every region the library knows.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import phonenumbers
import pytest

from tradetalk.protection import phones as ph
from tradetalk.protection.detector import DetectorConfig

_DESCS = (
    "general_desc",
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)
# Every region the shield asks `_valid_in` about.
_SHIELD_REGIONS = sorted(
    {
        DetectorConfig().default_region.upper(),
        *ph._OTHER_REGIONS,
        *ph._NEIGHBOURS,
        *(r for regions in ph._NEIGHBOURS.values() for r in regions),
    }
)
_ALL_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _number(code: int, national: str) -> phonenumbers.PhoneNumber:
    """The number `phonenumbers.parse` makes of `national` digits under calling code `code`
    (leading zeros kept apart)."""
    zeros = len(national) - len(national.lstrip("0"))
    if zeros == len(national):
        zeros -= 1  # (the last zero is the number itself)
    return phonenumbers.PhoneNumber(
        country_code=code,
        national_number=int(national),
        italian_leading_zero=True if zeros else None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )


def _examples(region: str) -> list[str]:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert meta is not None
    found = []
    for name in _DESCS:
        desc = getattr(meta, name)
        if desc is not None and desc.example_number:
            found.append(desc.example_number)
    return found


def _variations(national: str, rng: random.Random) -> list[str]:
    """The number, its last digits replaced, a digit more and a digit less."""
    found = [national, national + str(rng.randrange(10)), national[:-1]]
    for kept in range(max(1, len(national) - 4), len(national)):
        tail = "".join(rng.choice("0123456789") for _ in range(len(national) - kept))
        found.append(national[:kept] + tail)
    return [n for n in found if n]


def _random_digits(length: int, rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(length))


def _assert_same(region: str, numbers: list[str]) -> int:
    """Compare on `numbers` under the region's calling code and under another one; returns how
    many the library found valid."""
    code = phonenumbers.country_code_for_region(region)
    valid = 0
    for national in numbers:
        for asked in (code, code + 1):
            num = _number(asked, national)
            expected = phonenumbers.is_valid_number_for_region(num, region)
            assert ph._valid_in(ph._number_of(num), (region,)) == expected, (
                region,
                asked,
                national,
            )
            valid += expected
    return valid


@pytest.mark.parametrize("region", _SHIELD_REGIONS)
def test_validity_matches_the_library_for_the_shields_regions(region: str) -> None:
    rng = random.Random(f"shield-{region}")
    numbers = [_random_digits(n, rng) for n in range(4, 18) for _ in range(150)]
    for example in _examples(region):
        for _ in range(40):
            numbers += _variations(example, rng)
    assert _assert_same(region, numbers) > 0  # (not only invalid numbers compared)


def test_validity_matches_the_library_for_every_region() -> None:
    rng = random.Random("every-region")
    valid = 0
    for region in _ALL_REGIONS:
        numbers = [_random_digits(n, rng) for n in range(4, 18) for _ in range(6)]
        for example in _examples(region):
            numbers += _variations(example, rng)
        valid += _assert_same(region, numbers)
    assert valid > len(_ALL_REGIONS)


@pytest.mark.parametrize("region", ["gb", "001", "XX", "ZZ"])
def test_validity_matches_the_library_for_odd_region_codes(region: str) -> None:
    rng = random.Random(f"odd-{region}")
    for code in (1, 44, 800, 882, 999):
        for length in range(4, 18):
            for _ in range(20):
                num = _number(code, _random_digits(length, rng))
                expected = phonenumbers.is_valid_number_for_region(num, region)
                assert ph._valid_in(ph._number_of(num), (region,)) == expected, (region, code, num)
    num = _number(800, "12345678")
    assert ph._valid_in(ph._number_of(num), ("001",)) == phonenumbers.is_valid_number_for_region(
        num, "001"
    )


def test_valid_international_matches_the_library() -> None:
    """`_valid_international` is `is_valid_number` except for codes shared by more than three
    regions, where it asks the main region and its `_NEIGHBOURS` only."""
    rng = random.Random("international")
    for code, regions in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()):
        if len(regions) > 3:
            continue
        numbers = [_random_digits(n, rng) for n in range(4, 18) for _ in range(4)]
        for region in regions:
            if region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
                for example in _examples(region):
                    numbers += _variations(example, rng)
        for national in numbers:
            num = _number(code, national)
            assert ph._valid_international(ph._number_of(num)) == phonenumbers.is_valid_number(
                num
            ), num


@pytest.mark.parametrize(
    ("national_number", "leading_zero", "zeros"),
    [(0, None, None), (0, True, None), (5, True, 3), (5, True, 0), (5, False, 2), (7, None, 1)],
)
def test_national_significant_number_matches_the_library(
    national_number: int, leading_zero: bool | None, zeros: int | None
) -> None:
    num = phonenumbers.PhoneNumber(
        country_code=39,
        national_number=national_number * 1234567,
        italian_leading_zero=leading_zero,
        number_of_leading_zeros=zeros,
    )
    expected = phonenumbers.national_significant_number(num)
    assert ph._national_significant_number(num) == expected


def test_mobile_pattern_counts_only_when_not_said_to_be_the_fixed_line_one() -> None:
    """The library consults the mobile description only when `same_mobile_and_fixed_line_pattern`
    is false (its metadata sets the flag when the two patterns are equal, so it never changes
    the verdict there: a stand-in for metadata shows the rule is kept all the same)."""
    fixed = phonenumbers.PhoneNumberDesc(national_number_pattern="2\\d{5}", possible_length=(6,))
    mobile = phonenumbers.PhoneNumberDesc(national_number_pattern="7\\d{5}", possible_length=(6,))
    general = phonenumbers.PhoneNumberDesc(national_number_pattern="\\d{6}", possible_length=(6,))
    for same, mobile_valid in ((True, False), (False, True)):
        meta = SimpleNamespace(
            same_mobile_and_fixed_line_pattern=same,
            **{name: None for name in _DESCS},
        )
        meta.general_desc, meta.fixed_line, meta.mobile = general, fixed, mobile
        pattern = ph._valid_numbers(meta, 6)  # type: ignore[arg-type]
        assert pattern is not None
        assert pattern.fullmatch("212345") is not None
        assert (pattern.fullmatch("712345") is not None) == mobile_valid
        assert pattern.fullmatch("512345") is None
        assert ph._valid_numbers(meta, 7) is None  # type: ignore[arg-type]
