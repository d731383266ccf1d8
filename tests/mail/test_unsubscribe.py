"""One-click unsubscribe (RFC 8058): the headers on non-transactional mail, one POST without
signing in turns that kind of email off, a forged link does nothing."""

import re
from datetime import date

from pledges.extensions import db
from pledges.models import Supporter
from pledges.services import cases, ledger, mail_outbox
from tests.factories import make_case, make_contribution, make_pledge, make_supporter


def test_one_post_turns_case_news_off_without_signing_in(app, client, smtp):
    with app.app_context():
        supporter = make_supporter("news@example.org")
        case = make_case()
        make_contribution(make_pledge(supporter), gross=20_00)
        ledger.record_disbursement(case, 10_00, date.today())
        cases.post_update(case, "Done", "All bought.", notify=True, by=None)
        db.session.commit()
        supporter_id = supporter.id
        assert mail_outbox.deliver_due().sent == 1
    [message] = smtp.messages
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(.+)>", message["List-Unsubscribe"])[1]
    assert url in message.get_body(("plain",)).get_content()
    path = url.removeprefix("http://pledges.test")

    assert "Stop sending me news from the cases" in client.get(path).get_data(as_text=True)
    # What a mail program sends: a bare POST, no cookie, no CSRF token.
    response = app.test_client().post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    with app.app_context():
        supporter = db.session.get(Supporter, supporter_id)
        assert not supporter.wants_updates and supporter.wants_digest and supporter.wants_reminders

    forged = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    assert app.test_client().post(forged).status_code == 404
    assert app.test_client().post("/unsubscribe/not-a-token").status_code == 404


def test_news_turned_off_after_queuing_is_not_sent(app, smtp):
    with app.app_context():
        supporter = make_supporter("late@example.org")
        case = make_case()
        make_pledge(supporter, case=case)
        cases.post_update(case, "Done", "All bought.", notify=True, by=None)
        db.session.commit()
        supporter.wants_updates = False
        db.session.commit()
        report = mail_outbox.deliver_due()
    assert (report.sent, report.dropped) == (0, 1)
