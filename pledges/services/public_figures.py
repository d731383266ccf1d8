"""What the public API tells: aggregates only. A count small enough to point at someone is
not given as a number."""

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from pledges.extensions import db
from pledges.models import Case, CaseStatus, Disbursement
from pledges.models.types import utcnow
from pledges.services import cases, fund

#: Below this, a count says "fewer than 3" rather than the number.
THRESHOLD = 3
FEWER = f"fewer than {THRESHOLD}"


def count(number: int) -> int | str:
    return number if number >= THRESHOLD else FEWER


def fund_figures(now: datetime | None = None) -> dict[str, object]:
    summary = fund.summary(shown=0)
    year_start = date((now or utcnow()).year, 1, 1)
    paid = func.coalesce(func.sum(Disbursement.amount), 0)
    in_currency = Disbursement.currency == summary.currency
    return {
        "name": summary.name,
        "currency": summary.currency,
        "monthly_pledged": summary.monthly_total,
        "active_supporters": count(summary.supporters),
        "paid_out_this_year": db.session.scalar(
            select(paid).where(in_currency, Disbursement.paid_on >= year_start)
        ),
        "paid_out_total": db.session.scalar(select(paid).where(in_currency)),
        "open_cases": summary.open_case_count,
    }


def published_cases() -> list[Case]:
    return list(
        db.session.scalars(
            select(Case)
            .where(Case.status != CaseStatus.DRAFT)
            .order_by(Case.id)
            .options(selectinload(Case.updates))  # every case's updates in one more query
        )
    )


def paid_out(case_ids: list[int]) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(Disbursement.case_id, func.sum(Disbursement.amount))
            .where(Disbursement.case_id.in_(case_ids))
            .group_by(Disbursement.case_id)
        ).all()
    )


def supporting(case: Case) -> int | str:
    """How many supporters' pledges funded the case or are earmarked for it."""
    return count(
        db.session.scalar(select(func.count()).select_from(cases.supporter_ids(case).subquery()))
    )
