"""Money is integers of minor units with an ISO currency code; these helpers cross to and from
what people type and read."""

import re
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision
from flask_babel import get_locale

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
    return _formatted(minor, currency, str(get_locale() or "en"))


@lru_cache(maxsize=8192)
def _formatted(minor: int, currency: str, locale: str) -> str:
    # A supporter's page repeats the same few amounts month after month, and Babel's formatting
    # is the slowest part of rendering it.
    return format_currency(to_major(minor, currency), currency, locale=locale)
