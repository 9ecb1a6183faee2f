"""Currencies are ISO 4217 codes one can pay in; amounts read in the currency's own minor unit."""

from __future__ import annotations

import pytest

from tradetalk.offers.money import check_currency, format_amount


@pytest.mark.parametrize("code", ["USD", "EUR", "GBP", "JPY", "CHF", "KWD"])
def test_payable_currencies_pass(code: str) -> None:
    assert check_currency(code) == code


@pytest.mark.parametrize("code", ["usd", "Eur", "ZZZ", "XXX", "XTS", "XAU", "US", "USDD", ""])
def test_lower_case_unknown_and_non_money_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError):
        check_currency(code)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (12000, "USD", "USD 120.00"),
        (5, "EUR", "EUR 0.05"),
        (123456789, "GBP", "GBP 1,234,567.89"),
        (5000, "JPY", "JPY 5,000"),
        (1500, "KWD", "KWD 1.500"),
    ],
)
def test_amounts_are_shown_in_major_units(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown
