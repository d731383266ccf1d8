"""Exchange rates for demo payments: fixed and invented, so that a pledge in another currency
shows what conversion does. Real payments take what Stripe's balance transaction says."""

from decimal import ROUND_HALF_EVEN, Decimal

from pledges.money import minor_digits

#: Euros per unit of each currency (made up, round, and never updated).
EUROS_PER_UNIT = {
    "EUR": Decimal("1"),
    "USD": Decimal("0.92"),
    "GBP": Decimal("1.17"),
    "CHF": Decimal("1.06"),
    "PLN": Decimal("0.23"),
    "CZK": Decimal("0.04"),
    "SEK": Decimal("0.088"),
    "UAH": Decimal("0.022"),
}


def convert(amount: int, source: str, target: str) -> int:
    """`amount` minor units of `source` in minor units of `target`, rounded to the nearest."""
    if source == target:
        return amount
    major = Decimal(amount).scaleb(-minor_digits(source))
    converted = major * EUROS_PER_UNIT[source] / EUROS_PER_UNIT[target]
    return int(converted.scaleb(minor_digits(target)).quantize(Decimal(1), ROUND_HALF_EVEN))
