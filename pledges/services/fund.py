"""What the public may know about the fund: aggregates only, never a list of people."""

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Case, CaseStatus, Pledge, PledgeStatus
from pledges.services import exchange


@dataclass(frozen=True)
class FundSummary:
    name: str
    currency: str
    #: What active pledges bring each month, in minor units of `currency`.
    monthly_total: int
    supporters: int
    open_cases: list[Case]


def summary() -> FundSummary:
    currency = current_app.config["FUND_CURRENCY"]
    supporters = db.session.scalar(
        select(func.count(func.distinct(Pledge.supporter_id))).where(
            Pledge.status == PledgeStatus.ACTIVE
        )
    )
    return FundSummary(
        name=current_app.config["FUND_NAME"],
        currency=currency,
        monthly_total=monthly_pledged(currency),
        supporters=supporters,
        open_cases=open_cases(),
    )


def monthly_pledged(currency: str) -> int:
    """What active pledges bring each month, in the ledger's currency (see `exchange`)."""
    by_currency = db.session.execute(
        select(Pledge.currency, func.sum(Pledge.amount))
        .where(Pledge.status == PledgeStatus.ACTIVE)
        .group_by(Pledge.currency)
    ).all()
    return exchange.in_ledger_currency(dict(by_currency), currency)


def open_cases() -> list[Case]:
    return list(
        db.session.scalars(select(Case).where(Case.status == CaseStatus.OPEN).order_by(Case.id))
    )


def public_case(slug: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.slug == slug, Case.status != CaseStatus.DRAFT))
