"""The same payment reaching two workers at the same instant (a webhook and the sync, or a
gift's two checkout events) is recorded once, and neither worker fails."""

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Contribution, Pledge, PledgeStatus
from pledges.services import ledger, pledges
from tests.factories import make_pledge


def test_two_workers_recording_one_payment_at_once_record_it_once(app):
    with app.app_context():
        pledge_ids = [make_pledge(status=PledgeStatus.ACTIVE).id for _ in range(20)]
        db.session.commit()
    barrier = threading.Barrier(2)
    failures, recorded = [], []

    def record(pledge_id: int) -> None:
        with app.app_context():
            pledge = db.session.get(Pledge, pledge_id)
            barrier.wait()
            try:
                contribution = pledges.record_payment(
                    pledge, payment_id=f"in_same_{pledge_id}", gross=10_00, fee=40,
                    paid_at=datetime.now(UTC),
                )  # fmt: skip
                db.session.commit()
                recorded.append(contribution.id)
            except Exception as error:  # noqa: BLE001 - any failure is what this test looks for
                failures.append(repr(error))
                db.session.rollback()

    for pledge_id in pledge_ids:
        threads = [threading.Thread(target=record, args=(pledge_id,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert failures == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contribution)) == 20
        assert len(set(recorded)) == 20 and len(recorded) == 40
        assert ledger.check() == []
