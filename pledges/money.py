"""Money is integers of minor units with an ISO currency code; these helpers cross to and from
what people type and read."""

import re
from decimal import Decimal

from babel.numbers import get_currency_precision
from flask_babel import format_currency

#: What people type: digits, and optionally a decimal point or comma with more digits.
TYPED_AMOUNT = re.compile(r"\d{1,12}(?:[.,]\d+)?")


def minor_digits(currency: str) -> int:
    return get_currency_precision(currency)


def to_minor(amount: Decimal | str, currency: str) -> int:
    """Convert a typed amount to minor units; refuse fractions the currency does not have."""
    typed = str(amount).strip()
    if not TYPED_AMOUNT.fullmatch(typed):
        raise ValueError("not an amount")
    value = Decimal(typed.replace(",", "."))
    scaled = value.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError("too many decimal places")
    return int(scaled)


def to_major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_digits(currency))


def format_money(minor: int, currency: str) -> str:
    """Format for the current locale, e.g. 1500 EUR -> "€15.00"."""
    return format_currency(to_major(minor, currency), currency)
