"""Currencies (ISO 4217, from the `iso4217` package) and amounts in minor units."""

from __future__ import annotations

from decimal import Decimal

from iso4217 import Currency

MAX_AMOUNT_MINOR = 10**12

# Codes whose minor unit ISO lists as "N.A." (XXX "no currency", XTS "testing", gold, SDR...)
# are not something a buyer pays in, so offers refuse them.
_EXPONENTS: dict[str, int] = {c.code: c.exponent for c in Currency if c.exponent is not None}
PAYABLE_CURRENCIES: tuple[str, ...] = tuple(sorted(_EXPONENTS))


def minor_unit_exponent(code: str) -> int | None:
    """Digits after the decimal point in `code` (2 for USD, 0 for JPY); None if not payable."""
    return _EXPONENTS.get(code)


def check_currency(code: str) -> str:
    """`code` when it is an upper-case ISO 4217 code of a payable currency; ValueError if not."""
    if code not in _EXPONENTS:
        if code.upper() in _EXPONENTS:
            raise ValueError(f"currency codes are upper case: {code.upper()!r}")
        raise ValueError(f"{code!r} is not an ISO 4217 code of a payable currency")
    return code


def format_amount(amount_minor: int, currency: str) -> str:
    """`USD 1,200.00`, `JPY 5,000`: the amount as people read it."""
    exponent = _EXPONENTS[currency]
    major = Decimal(amount_minor).scaleb(-exponent)
    return f"{currency} {major:,.{exponent}f}"
