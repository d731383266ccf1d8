"""The audit log as an admin reads it: amounts as money, things by their names, linked to their
pages; what is stored stays as it was written."""

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import AuditEntry, CaseStatus, Disbursement, Organizer
from pledges.services import audit, cases, disbursements
from tests.factories import make_case, make_contribution, make_pledge, make_supporter

LONG_AGO = datetime.now(UTC) - timedelta(days=30)


def _admin(app, client) -> Organizer:
    return db.session.get(Organizer, client.organizer_id)


def _log(client) -> str:
    page = client.get("/organizer/audit")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_payment_reads_as_money_to_the_case_by_its_title(app, admin_client):
    with app.app_context():
        case = make_case(title="Lawyers' fees")
        make_contribution(make_pledge(make_supporter(), case=case), gross=80_00, fee=0,
                          paid_at=LONG_AGO)  # fmt: skip
        recorded = disbursements.record(
            case, 50_00, date.today(), "", by=_admin(app, admin_client)
        ).disbursement
        db.session.commit()
        case_id, payment_id = case.id, recorded.id
        stored = db.session.scalar(select(AuditEntry.detail).where(AuditEntry.action.like("disb%")))

    log = _log(admin_client)

    assert stored.startswith(f"5000 EUR to case:{case_id}")  # stored as it always was
    assert "5000 EUR" not in log and "case:" not in log
    assert re.search(
        rf'€50.00 to <a href="/organizer/cases/{case_id}">Lawyers&#39; fees</a>, paid on', log
    )
    assert f"payment #{payment_id}</a>" in log
    assert "Recorded a payment" in log


def test_a_recalculation_and_a_reversal_name_the_payments_and_their_amounts(app, admin_client):
    with app.app_context():
        admin = _admin(app, admin_client)
        case = make_case(title="Body armour")
        make_contribution(make_pledge(make_supporter()), gross=80_00, fee=0, paid_at=LONG_AGO)
        later = disbursements.record(case, 80_00, date.today(), "", by=admin).disbursement
        # Dated before it, this payment takes the pool first: the later one now needs 50.00
        # of other income.
        disbursements.record(case, 50_00, date.today() - timedelta(days=5), "", by=admin)
        correction = disbursements.reverse(later, date.today(), "typo", by=admin)
        db.session.commit()
        case_id, later_id, correction_id = case.id, later.id, correction.id

    log = _log(admin_client)

    assert (
        f'Recalculated <a href="/organizer/cases/{case_id}">payment #{later_id}</a>: '
        "€50.00 from other income (was €0.00)"
    ) in log
    assert "€80.00 to <a" in log and "corrected by <a" in log
    assert f"payment #{correction_id}</a>" in log
    assert "disbursement:" not in log and "8000" not in log


def test_other_entries_read_in_the_readers_language_and_unknown_ones_as_written(app, admin_client):
    with app.app_context():
        admin = _admin(app, admin_client)
        case = make_case(title="Safe flat", status=CaseStatus.DRAFT)
        cases.move(case, CaseStatus.OPEN, by=admin)
        audit.record("case.edit", case, "something new", by=admin)
        audit.record("export", "contributions", "with emails", by=None)
        db.session.commit()

    log = _log(admin_client)
    assert "Draft → Open" in log
    assert "something new" in log  # a detail this page does not know is shown as written
    assert "With emails" in log and "command line" in log

    admin_client.post_form("/language", {"locale": "de", "next": "/organizer/audit"})
    german = _log(admin_client)
    assert "Status eines Falls geändert" in german and "Entwurf → Offen" in german


def test_an_outcome_posted_reads_as_its_title_linked_to_it(app, admin_client):
    """Found trying it out: the log said "case_update:2" (the reader looked for "update:2")."""
    with app.app_context():
        update = cases.post_update(make_case(), "All bought", "…", notify=False,
                                   by=_admin(app, admin_client))  # fmt: skip
        db.session.commit()
        update_id = update.id

    log = _log(admin_client)

    assert "case_update:" not in log
    assert f'<a href="/organizer/updates/{update_id}/edit">All bought</a>' in log


def test_the_log_stacks_its_rows_on_a_phone_and_names_each_cell(app, admin_client):
    log = _log(admin_client)
    assert '<table class="audit stack-on-phone">' in log
    assert 'data-label="Who"' in log and "overflow-auto" not in log


def test_an_entry_naming_a_payment_that_is_not_there_keeps_its_stored_name(app, admin_client):
    with app.app_context():
        audit.record("disbursement.reverse", "disbursement:999", "by disbursement:1000",
                     by=_admin(app, admin_client))  # fmt: skip
        db.session.commit()
        assert db.session.scalar(select(Disbursement)) is None
    log = _log(admin_client)
    assert "disbursement:999" in log and "Corrected by disbursement:1000" in log
