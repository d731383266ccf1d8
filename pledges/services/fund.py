"""What the public may know about the fund: aggregates only, never a list of people."""

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Case, CaseStatus, Pledge, PledgeStatus


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
    active = (Pledge.status == PledgeStatus.ACTIVE, Pledge.currency == currency)
    monthly_total, supporters = db.session.execute(
        select(
            func.coalesce(func.sum(Pledge.amount), 0),
            func.count(func.distinct(Pledge.supporter_id)),
        ).where(*active)
    ).one()
    return FundSummary(
        name=current_app.config["FUND_NAME"],
        currency=currency,
        monthly_total=monthly_total,
        supporters=supporters,
        open_cases=open_cases(),
    )


def open_cases() -> list[Case]:
    return list(
        db.session.scalars(select(Case).where(Case.status == CaseStatus.OPEN).order_by(Case.id))
    )


def public_case(slug: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.slug == slug, Case.status != CaseStatus.DRAFT))
