"""The monthly impact digest: what one supporter gave last month, where it went (from the
ledger, to the cent), what happened on the cases their money funded, and the fund's totals."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flask import g
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import (
    Allocation,
    Case,
    CaseUpdate,
    Contribution,
    Disbursement,
    Pledge,
    PledgeStatus,
    Supporter,
)
from pledges.services.ledger import AVAILABLE


@dataclass
class Digest:
    month: date
    currency: str
    given: int
    #: (case, amount of last month's money it received)
    cases: list[tuple[Case, int]] = field(default_factory=list)
    waiting: int = 0
    updates: list[CaseUpdate] = field(default_factory=list)
    fund_monthly: int = 0
    fund_paid_out: int = 0


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC)
    return start, following


def for_supporter(supporter: Supporter, month: date, currency: str) -> Digest | None:
    """None when they gave nothing that month: there is nothing to tell."""
    start, end = month_bounds(month)
    in_month = (
        Contribution.supporter_id == supporter.id,
        Contribution.currency == currency,
        Contribution.paid_at >= start,
        Contribution.paid_at < end,
    )
    given, available = db.session.execute(
        select(
            func.coalesce(func.sum(Contribution.gross), 0),
            func.coalesce(func.sum(AVAILABLE), 0),
        ).where(*in_month)
    ).one()
    if not given:
        return None
    shares = db.session.execute(
        select(Case, func.sum(Allocation.amount))
        .join(Disbursement, Disbursement.case_id == Case.id)
        .join(Allocation, Allocation.disbursement_id == Disbursement.id)
        .join(Contribution, Contribution.id == Allocation.contribution_id)
        .where(*in_month)
        .group_by(Case.id)
        .order_by(func.sum(Allocation.amount).desc())
    ).all()
    funded_ever = (
        select(Disbursement.case_id)
        .join(Allocation, Allocation.disbursement_id == Disbursement.id)
        .join(Contribution, Contribution.id == Allocation.contribution_id)
        .where(Contribution.supporter_id == supporter.id)
    )
    updates = db.session.scalars(
        select(CaseUpdate)
        .where(
            CaseUpdate.case_id.in_(funded_ever),
            CaseUpdate.published_at >= start,
            CaseUpdate.published_at < end,
        )
        .order_by(CaseUpdate.published_at)
    ).all()
    spent = sum(amount for _, amount in shares)
    fund_monthly, fund_paid_out = fund_totals(month, currency)
    return Digest(
        month=month,
        currency=currency,
        given=given,
        cases=[(case, amount) for case, amount in shares],
        waiting=max(available - spent, 0),
        updates=list(updates),
        fund_monthly=fund_monthly,
        fund_paid_out=fund_paid_out,
    )


def fund_totals(month: date, currency: str) -> tuple[int, int]:
    """What active pledges bring each month, and what was paid out that month: the same in
    every digest, so worked out once per delivery run (kept on `g`, the app context)."""
    cache = g.setdefault("digest_fund_totals", {})
    if (month, currency) not in cache:
        start, end = month_bounds(month)
        cache[month, currency] = (
            db.session.scalar(
                select(func.coalesce(func.sum(Pledge.amount), 0)).where(
                    Pledge.status == PledgeStatus.ACTIVE, Pledge.currency == currency
                )
            ),
            db.session.scalar(
                select(func.coalesce(func.sum(Disbursement.amount), 0)).where(
                    Disbursement.currency == currency,
                    Disbursement.paid_on >= start.date(),
                    Disbursement.paid_on < end.date(),
                )
            ),
        )
    return cache[month, currency]
