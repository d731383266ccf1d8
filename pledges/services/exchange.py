"""Pledges made in another currency than the ledger's, counted in the ledger's.

What a payment in another currency brought is known only once it is paid (Stripe's balance
transaction says so, net of its rate and fee). A monthly figure that includes such pledges
takes, for each currency, the rate the latest payment in it got: an estimate, never a rate we
invented.
"""

from fractions import Fraction

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Contribution


def in_ledger_currency(amounts: dict[str, int], ledger_currency: str) -> int:
    """The sum of `amounts` (minor units by currency) in the ledger's; a currency nothing has
    been paid in yet counts nothing rather than a guess."""
    total = 0
    for currency, amount in amounts.items():
        if currency == ledger_currency:
            total += amount
        elif amount:
            rate = latest_rate(currency, ledger_currency)
            total += round(amount * rate) if rate is not None else 0
    return total


def latest_rate(currency: str, ledger_currency: str) -> Fraction | None:
    """Minor units of the ledger's currency one minor unit of `currency` last brought in."""
    row = db.session.execute(
        select(Contribution.gross, Contribution.paid_amount)
        .where(Contribution.paid_currency == currency, Contribution.currency == ledger_currency)
        .order_by(Contribution.paid_at.desc(), Contribution.id.desc())
        .limit(1)
    ).first()
    return Fraction(row.gross, row.paid_amount) if row else None
