"""The ledger's rules, case by case. Each scenario ends with `ledger.check()` empty, which also
compares the stored rows with a rebuild from scratch."""

import threading

import pytest
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Contribution, Disbursement, Pledge
from pledges.payments.demo_gateway import DemoGateway
from pledges.services import ledger
from tests.factories import make_case, make_pledge, make_supporter
from tests.ledger.history import disburse, on, other_income, pay, pledge_for, rows, supporter


def test_earmarked_first_then_the_general_pool_oldest_first(app):
    with app.app_context():
        case = make_case()
        general = make_pledge()
        earmarked = make_pledge(case=case)
        old = pay(general, 10_00, on_day=1)
        mine = pay(earmarked, 10_00, on_day=2)
        young = pay(general, 10_00, on_day=3)

        spent = disburse(case, 15_00, on_day=5)

        assert rows() == [(spent.id, old.id, 5_00), (spent.id, mine.id, 10_00)]
        assert ledger.given(young.id) == 0
        assert ledger.check() == []


def test_only_money_paid_by_the_disbursements_date_and_the_rest_from_other_income(app):
    with app.app_context():
        case = make_case()
        pledge = make_pledge()
        before = pay(pledge, 10_00, on_day=1, fee=50)
        pay(pledge, 10_00, on_day=6)

        spent = disburse(case, 25_00, on_day=5)

        assert rows() == [(spent.id, before.id, 9_50)]
        assert other_income() == {spent.id: 15_50}
        assert ledger.check() == []


def test_money_earmarked_for_another_case_waits_for_it(app):
    with app.app_context():
        mine, other = make_case(), make_case()
        pay(make_pledge(case=other), 10_00, on_day=1)

        spent = disburse(mine, 5_00, on_day=2)

        assert rows() == []
        assert other_income() == {spent.id: 5_00}


def test_back_dated_disbursement_rebuilds_what_came_after(app):
    with app.app_context():
        first_case, second_case = make_case(), make_case()
        pledge = make_pledge()
        a = pay(pledge, 10_00, on_day=1)
        b = pay(pledge, 10_00, on_day=4)
        later = disburse(first_case, 10_00, on_day=10)
        assert rows() == [(later.id, a.id, 10_00)]

        earlier = disburse(second_case, 10_00, on_day=2)  # recorded now, paid on day 2

        assert rows() == sorted([(earlier.id, a.id, 10_00), (later.id, b.id, 10_00)])
        assert ledger.check() == []


def test_refund_of_spent_money_moves_the_spending_to_the_next_contribution(app):
    with app.app_context():
        case = make_case()
        pledge = make_pledge()
        a = pay(pledge, 10_00, on_day=1)
        b = pay(pledge, 10_00, on_day=2)
        spent = disburse(case, 10_00, on_day=3)

        DemoGateway("unused-secret-key-for-tests").refund(db.session.get(Contribution, a.id))
        db.session.commit()

        assert rows() == [(spent.id, b.id, 10_00)]
        assert ledger.check() == []


def test_partial_refund_of_unspent_money_changes_nothing_spent(app):
    with app.app_context():
        case = make_case()
        a = pay(make_pledge(), 10_00, on_day=1)
        spent = disburse(case, 4_00, on_day=3)

        ledger.take_back(db.session.get(Contribution, a.id), refunded=5_00)
        db.session.commit()

        assert rows() == [(spent.id, a.id, 4_00)]
        assert ledger.check() == []


def test_dispute_withdraws_the_payment(app):
    with app.app_context():
        case = make_case()
        a = pay(make_pledge(), 10_00, on_day=1)
        spent = disburse(case, 4_00, on_day=3)

        DemoGateway("unused-secret-key-for-tests").dispute(db.session.get(Contribution, a.id))
        db.session.commit()

        assert rows() == []
        assert other_income() == {spent.id: 4_00}
        assert ledger.check() == []


def test_payment_recorded_late_takes_its_place_in_history(app):
    with app.app_context():
        case = make_case()
        pledge = make_pledge()
        spent = disburse(case, 10_00, on_day=5)
        assert other_income() == {spent.id: 10_00}

        late = pay(pledge, 6_00, on_day=3)  # the webhook came days after the payment

        assert rows() == [(spent.id, late.id, 6_00)]
        assert other_income() == {spent.id: 4_00}
        assert ledger.check() == []


def test_payment_after_the_last_disbursement_touches_nothing(app):
    with app.app_context():
        case = make_case()
        pledge = make_pledge()
        a = pay(pledge, 10_00, on_day=1)
        spent = disburse(case, 5_00, on_day=5)

        pay(pledge, 10_00, on_day=5, hour=12)  # same day, later: only waits for the next case

        assert rows() == [(spent.id, a.id, 5_00)]
        assert ledger.check() == []


def test_two_organizers_at_the_same_moment_never_spend_a_contribution_twice(app):
    with app.app_context():
        case = make_case()
        pledge = make_pledge(make_supporter())
        for number in range(10):
            pay(pledge, 10_00, on_day=number)
        case_id = case.id

    errors: list[Exception] = []
    barrier = threading.Barrier(2)

    def record() -> None:
        with app.app_context():
            try:
                barrier.wait()
                ledger.record_disbursement(db.session.get(type(case), case_id), 70_00, on(20))
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - SQLite refuses the second writer
                db.session.rollback()
                errors.append(error)

    threads = [threading.Thread(target=record) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with app.app_context():
        recorded = db.session.scalars(select(Disbursement)).all()
        assert len(recorded) + len(errors) == 2
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            assert errors == []  # the advisory lock makes the second wait, not fail
        assert len(recorded) >= 1
        assert ledger.check() == []
        contributions = db.session.scalars(select(Contribution)).all()
        assert all(ledger.given(c.id) <= c.available for c in contributions)
        assert sum(d.other_income for d in recorded) == 70_00 * len(recorded) - min(
            100_00, 70_00 * len(recorded)
        )


def test_full_rebuild_changes_nothing(app):
    with app.app_context():
        first, second = make_case(), make_case()
        pledges_ = [make_pledge(), make_pledge(case=first), make_pledge(case=second)]
        for number in range(12):
            pay(pledges_[number % 3], 3_00 + number * 50, on_day=number, fee=number)
        disburse(first, 9_00, on_day=4)
        disburse(second, 14_00, on_day=9)
        disburse(first, 5_00, on_day=6)
        before = (rows(), other_income())

        ledger.rebuild()
        db.session.commit()

        assert (rows(), other_income()) == before
        assert ledger.check() == []


def test_late_earmarked_payment_displaces_general_money(app):
    with app.app_context():
        case = make_case()
        general = pay(make_pledge(), 10_00, on_day=1)
        spent = disburse(case, 6_00, on_day=5)
        assert rows() == [(spent.id, general.id, 6_00)]

        late = pay(make_pledge(case=case), 4_00, on_day=3)  # earmarked: it goes first

        assert rows() == sorted([(spent.id, late.id, 4_00), (spent.id, general.id, 2_00)])
        assert ledger.check() == []


def test_a_reversed_disbursement_frees_its_money_for_the_next(app):
    with app.app_context():
        case = make_case()
        first = pay(pledge_for(supporter(0), None), 10_00, 1, fee=0)
        mistake = disburse(case, 10_00, 2)
        later = disburse(case, 6_00, 3)
        assert later.other_income == 6_00  # the mistake had spent everything

        correction = ledger.reverse_disbursement(mistake, on(4), note="paid twice by mistake")
        db.session.commit()

        assert (correction.amount, correction.reverses_id) == (-10_00, mistake.id)
        assert not mistake.in_ledger and not correction.in_ledger
        assert db.session.get(Disbursement, mistake.id) is not None  # never deleted
        assert rows() == [(later.id, first.id, 6_00)]
        assert db.session.get(Disbursement, later.id).other_income == 0
        assert ledger.check() == []
        with pytest.raises(ValueError, match="already reversed"):
            ledger.reverse_disbursement(mistake, on(5), note="again")


def test_a_payment_on_a_pledge_made_in_the_same_transaction_keeps_its_earmark(app):
    with app.app_context():
        case = make_case()
        pledge = Pledge(
            supporter=make_supporter(), amount=5_00, currency="EUR", provider="demo", case=case
        )
        db.session.add(pledge)  # not flushed: its case_id is not set yet
        paid = pay(pledge, 5_00, 1)
        assert paid.earmarked_case_id == case.id
