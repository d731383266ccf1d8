"""The organizers' dashboard: how the pledges stand, and twelve months of money in and out."""

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Contribution, Disbursement, Pledge, PledgeStatus
from pledges.models.types import utcnow
from pledges.services import disbursements, fund, ledger, pledges
from pledges.services.ledger import AVAILABLE
from pledges.services.ledger.common import dialect


@dataclass(frozen=True)
class Month:
    #: "2026-11"
    key: str
    income: int
    paid_out: int


@dataclass(frozen=True)
class Dashboard:
    currency: str
    #: What active pledges will bring next month.
    monthly_pledged: int
    by_status: dict[str, int]
    new_this_month: int
    lost_this_month: int
    unallocated: disbursements.Unallocated
    #: Of what is unallocated, what any case may receive; the rest is earmarked for one.
    general_pool: int
    months: list[Month]


def build(now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    currency = current_app.config["FUND_CURRENCY"]
    month_start = datetime(now.year, now.month, 1, tzinfo=now.tzinfo)
    # One pass over the pledges for every figure about them.
    rows = db.session.execute(
        select(
            Pledge.status,
            func.count(),
            func.count().filter(Pledge.activated_at >= month_start),
            func.count().filter(
                Pledge.canceled_at >= month_start, Pledge.activated_at.is_not(None)
            ),
            func.count().filter(pledges.is_abandoned(now)),
        ).group_by(Pledge.status)
    ).all()
    # A checkout left unpaid is not waiting for anything.
    by_status = {status: count - abandoned for status, count, _, _, abandoned in rows}
    monthly = fund.monthly_pledged(currency)
    new = sum(row[2] for row in rows)
    lost = sum(row[3] for row in rows)
    return Dashboard(
        currency=currency,
        monthly_pledged=monthly,
        by_status={status.value: by_status.get(status.value, 0) for status in PledgeStatus},
        new_this_month=new,
        lost_this_month=lost,
        unallocated=disbursements.unallocated(currency),
        general_pool=ledger.remaining(currency, None),
        months=last_months(now.date(), currency),
    )


def _month_keys(today: date, count: int) -> list[str]:
    keys, year, month = [], today.year, today.month
    for _ in range(count):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return keys[::-1]


def _month_of(column, is_date: bool = False):  # noqa: ANN001, ANN202
    """SQL: the month a timestamp (in UTC) or a date falls in, as its first day."""
    if dialect() == "postgresql":
        day = column if is_date else func.timezone("UTC", column)
        return func.date_trunc("month", day)
    return func.strftime("%Y-%m-01", column)


def _key(month: object) -> str:
    """ "2026-11" from what either database answers: a datetime or text."""
    return month.strftime("%Y-%m") if hasattr(month, "strftime") else str(month)[:7]


def last_months(today: date, currency: str, count: int = 12) -> list[Month]:
    """Income (what reached the fund, less refunds and disputes) and money paid out, per month."""
    keys = _month_keys(today, count)
    first_day = date.fromisoformat(keys[0] + "-01")
    start = datetime(first_day.year, first_day.month, 1, tzinfo=utcnow().tzinfo)
    income_month = _month_of(Contribution.paid_at)
    income = _by_month(
        db.session.execute(
            select(income_month, func.sum(AVAILABLE))
            .where(Contribution.currency == currency, Contribution.paid_at >= start)
            .group_by(income_month)
        ).all()
    )
    paid_month = _month_of(Disbursement.paid_on, is_date=True)
    paid_out = _by_month(
        db.session.execute(
            select(paid_month, func.sum(Disbursement.amount))
            .where(Disbursement.currency == currency, Disbursement.paid_on >= first_day)
            .group_by(paid_month)
        ).all()
    )
    return [Month(key, income.get(key, 0), paid_out.get(key, 0)) for key in keys]


def _by_month(rows: object) -> dict[str, int]:
    return {_key(month): total for month, total in rows}
