from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pledges.money import to_major, to_minor


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("12", "EUR", 1200),
        ("12.5", "EUR", 1250),
        ("0.99", "EUR", 99),
        ("12,50", "EUR", 1250),
        (" 7 ", "EUR", 700),
        ("500", "JPY", 500),
    ],
)
def test_typed_amounts_become_minor_units(typed, currency, minor):
    assert to_minor(typed, currency) == minor


@pytest.mark.parametrize(
    "typed", ["", "abc", "1.234", "NaN", "Infinity", "1e400", "-5", "1.000,00"]
)
def test_impossible_amounts_are_refused(typed):
    with pytest.raises(ValueError):
        to_minor(typed, "EUR")


def test_yen_has_no_cents():
    with pytest.raises(ValueError):
        to_minor("1.5", "JPY")


@given(st.integers(min_value=0, max_value=10**11), st.sampled_from(["EUR", "USD", "JPY", "KWD"]))
def test_minor_units_round_trip_exactly(minor, currency):
    assert to_minor(str(to_major(minor, currency)), currency) == minor
    assert isinstance(to_major(minor, currency), Decimal)
