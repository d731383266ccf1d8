"""Build ledger histories for tests: payments, refunds, disputes and disbursements on given days."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select

from pledges.extensions import db
from pledges.models import (
    Allocation,
    Case,
    CaseUpdate,
    Contribution,
    Disbursement,
    LedgerFrontier,
    OutboxEmail,
    Pledge,
    Supporter,
)
from pledges.services import ledger, pledges
from tests.factories import make_pledge, make_supporter

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def day(number: int, hour: int = 0) -> datetime:
    return START + timedelta(days=number, hours=hour)


def on(number: int) -> date:
    return day(number).date()


def pay(pledge: Pledge, amount: int, on_day: int, fee: int = 0, hour: int = 0) -> Contribution:
    contribution = pledges.record_payment(
        pledge,
        payment_id=f"in_{pledge.id}_{on_day}_{hour}_{amount}_{fee}_{id(object())}",
        gross=amount,
        fee=fee,
        paid_at=day(on_day, hour),
    )
    db.session.commit()
    return contribution


def disburse(case: Case, amount: int, on_day: int) -> Disbursement:
    disbursement = ledger.record_disbursement(case, amount, on(on_day), note="test")
    db.session.commit()
    return disbursement


def rows() -> list[tuple[int, int, int]]:
    """The whole ledger as (disbursement, contribution, amount), sorted."""
    return sorted(
        tuple(row)
        for row in db.session.execute(
            select(Allocation.disbursement_id, Allocation.contribution_id, Allocation.amount)
        )
    )


def other_income() -> dict[int, int]:
    return dict(db.session.execute(select(Disbursement.id, Disbursement.other_income)).all())


def pledge_for(supporter: Supporter, case: Case | None) -> Pledge:
    found = db.session.scalar(
        select(Pledge).where(
            Pledge.supporter_id == supporter.id,
            Pledge.case_id.is_(None) if case is None else Pledge.case_id == case.id,
        )
    )
    return found or make_pledge(supporter, case=case)


def supporter(number: int) -> Supporter:
    return make_supporter(f"history{number}@example.org")


def wipe() -> None:
    """Empty every table a history writes to, for the next example."""
    for model in (
        LedgerFrontier,
        Allocation,
        Disbursement,
        Contribution,
        OutboxEmail,
        Pledge,
        Supporter,
        CaseUpdate,
        Case,
    ):
        db.session.execute(delete(model))
    db.session.commit()
