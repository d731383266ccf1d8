"""The ledger's invariants under random histories: payments with and without earmarks, fees,
refunds, disputes, and disbursements recorded in any order, back-dated ones included."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Allocation, Case, Contribution, Disbursement
from pledges.services import attribution, disbursements, ledger
from tests.factories import make_case
from tests.ledger.history import (
    disburse,
    on,
    other_income,
    pay,
    pledge_for,
    rows,
    supporter,
    wipe,
)

SUPPORTERS, CASES, DAYS = 4, 3, 40

payment = st.tuples(
    st.just("pay"),
    st.integers(0, SUPPORTERS - 1),
    st.one_of(st.none(), st.integers(0, CASES - 1)),  # earmark
    st.integers(1_00, 50_00),  # gross
    st.integers(0, 60),  # fee, in cents
    st.integers(0, DAYS),
)
disbursement = st.tuples(
    st.just("disburse"), st.integers(0, CASES - 1), st.integers(50, 40_00), st.integers(0, DAYS)
)
refund = st.tuples(st.just("refund"), st.integers(0, 10**6), st.integers(1, 100))  # which, percent
dispute = st.tuples(st.just("dispute"), st.integers(0, 10**6))
#: A refund that failed or a dispute won: what is still held back, in percent of what was.
give_back = st.tuples(st.just("give back"), st.integers(0, 10**6), st.integers(0, 99))
reversal = st.tuples(st.just("reverse"), st.integers(0, 10**6), st.integers(0, DAYS))
history = st.lists(
    st.one_of(payment, payment, disbursement, disbursement, refund, dispute, give_back, reversal),
    max_size=25,
)


def play(steps) -> None:  # noqa: ANN001
    """Apply the steps through the services, checking the whole ledger after each one: every
    intermediate state must equal a rebuild from scratch, not only the last."""
    cases = [make_case() for _ in range(CASES)]
    people = [supporter(number) for number in range(SUPPORTERS)]
    paid: list[int] = []
    disbursed: list[int] = []
    for step in steps:
        kind = step[0]
        if kind == "pay":
            _, who, earmark, gross, fee, on_day = step
            pledge = pledge_for(people[who], None if earmark is None else cases[earmark])
            paid.append(pay(pledge, gross, on_day, fee=min(fee, gross)).id)
        elif kind == "disburse":
            _, which, amount, on_day = step
            disbursed.append(disburse(cases[which], amount, on_day).id)
        elif kind == "reverse":
            if disbursed:
                mistake = db.session.get(Disbursement, disbursed.pop(step[1] % len(disbursed)))
                day = max(on(step[2]), mistake.paid_on)  # never before the payment itself
                ledger.reverse_disbursement(mistake, day, note="test")
                db.session.commit()
        elif paid:
            contribution = db.session.get(Contribution, paid[step[1] % len(paid)])
            if kind == "refund":
                share = contribution.paid_amount * step[2] // 100
                ledger.take_back(contribution, refunded=contribution.refunded_paid + share)
            elif kind == "dispute":
                ledger.take_back(contribution, disputed=contribution.paid_amount)
            else:
                ledger.take_back(
                    contribution,
                    refunded=contribution.refunded_paid * step[2] // 100,
                    disputed=contribution.disputed_paid * step[2] // 100,
                    exactly=True,
                )
            db.session.commit()
        assert ledger.check() == [], step


@settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=history)
def test_invariants_hold_for_any_history(app, steps):
    with app.app_context():
        wipe()
        play(steps)

        # Every invariant, and the stored rows equal a replay from scratch.
        assert ledger.check() == []

        # A disbursement: its allocations and other income make it up exactly; one reversed
        # (or a correction) keeps no allocation, and with its correction sums to nothing.
        for row in db.session.execute(
            select(
                Disbursement.in_ledger,
                Disbursement.amount,
                Disbursement.other_income,
                func.sum(Allocation.amount),
            )
            .outerjoin(Allocation)
            .group_by(Disbursement.id)
        ):
            assert (row[3] or 0) + row[2] == row[1] if row[0] else row[3] is None
        for mistake in db.session.scalars(select(Disbursement).where(~Disbursement.in_ledger)):
            pair = mistake.reversed_by or mistake.reverses
            assert pair is not None and pair.amount == -mistake.amount

        # A contribution: never gives more than it has, nor before it was paid.
        for contribution in db.session.scalars(select(Contribution)):
            assert 0 <= ledger.given(contribution.id) <= contribution.available
        for paid_at, paid_on in db.session.execute(
            select(Contribution.paid_at, Disbursement.paid_on)
            .join(Allocation, Allocation.contribution_id == Contribution.id)
            .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        ):
            assert paid_at < ledger.cutoff(paid_on)

        # Recording step by step and rebuilding from scratch write the same rows.
        incremental = (rows(), other_income())
        ledger.rebuild()
        db.session.commit()
        assert (rows(), other_income()) == incremental

        # What each pool holds, read from its frontier, is what a sum over the pool says.
        for case_id in [None, *(case.id for case in db.session.scalars(select(Case)))]:
            for before in (None, ledger.cutoff(on(DAYS // 2))):
                in_pool = select(Contribution).where(
                    Contribution.earmarked_case_id.is_(None)
                    if case_id is None
                    else Contribution.earmarked_case_id == case_id
                )
                naive = sum(
                    c.available - ledger.given(c.id)
                    for c in db.session.scalars(in_pool)
                    if before is None or c.paid_at < before
                )
                assert ledger.remaining("EUR", case_id, before) == naive

        # What the dashboard calls "in the pool" is what every contribution has left.
        pool = disbursements.unallocated("EUR")
        everyone = list(db.session.scalars(select(Contribution)))
        assert pool.amount == sum(c.available - ledger.given(c.id) for c in everyone)

        # A dispute's money beyond what the refunds left is taken only from a payment the two
        # took all of, never beyond what was refunded; the dashboard counts it at each rate.
        for c in everyone:
            assert 0 <= c.disputed_beyond_paid <= c.refunded_paid
            if c.disputed_beyond_paid:
                assert c.refunded_paid + c.disputed_paid == c.paid_amount
        assert pool.taken_twice == sum(
            c.in_ledger_currency(c.disputed_beyond_paid) for c in everyone
        )

        # Every supporter's page adds up to what they paid.
        for person in {c.supporter for c in db.session.scalars(select(Contribution))}:
            for money in attribution.for_supporter(person):
                assert money.funded + money.in_fund + money.fees + money.refunds == money.paid
                assert min(money.funded, money.in_fund, money.fees, money.refunds) >= 0
