"""A one-off gift beside the monthly pledge, on demo payments: it enters the ledger like any
contribution, and a supporter without a monthly pledge is invited to make it monthly."""

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Contribution
from pledges.services import ledger, mail_outbox
from tests.factories import make_case, make_supporter
from tests.organizer.signing_in import sign_in_supporter


def test_a_gift_is_paid_once_and_enters_the_ledger(app, client, smtp):
    with app.app_context():
        supporter_id = make_supporter("giver@example.org").id
        make_case(slug="medics", title="Medics")
    sign_in_supporter(app, client, supporter_id)

    bad = client.post_form("/member/give", {"amount": "-3", "earmark": ""})
    assert bad.status_code == 422 and 'id="amount-error"' in bad.get_data(as_text=True)

    to_checkout = client.post_form("/member/give", {"amount": "25", "earmark": "medics"})
    assert to_checkout.status_code == 303 and "/demo/gift/" in to_checkout.location
    page = client.get(to_checkout.location).get_data(as_text=True)
    assert "One-off gift" in page and "€25.00" in page
    paid = client.post_form(to_checkout.location)
    again = client.post_form(to_checkout.location)  # a double click gives once
    assert paid.status_code == again.status_code == 303
    assert paid.location.endswith("/member?gift=thanks")
    payments = client.get("/member").get_data(as_text=True).split('id="payments"')[1]
    assert payments.count("One-off gift") == 1  # told apart from the monthly payments

    with app.app_context():
        [gift] = db.session.scalars(select(Contribution)).all()
        assert (gift.pledge_id, gift.gross, gift.fee) == (None, 25_00, 63)
        assert gift.earmarked_case_id is not None
        assert ledger.check() == []
        assert mail_outbox.deliver_due().sent == 1
    [thanked] = smtp.messages
    assert thanked["Subject"] == "Thank you for your gift to Test Solidarity Fund"
    assert "make it monthly" in thanked.get_body(("plain",)).get_content()
    thanks = client.get("/member?gift=thanks").get_data(as_text=True)
    assert "Thank you for your gift" in thanks and "Make it monthly" in thanks
    assert "€25.00" in thanks.split('id="payments"')[1]


def test_a_gift_form_sent_with_a_mistake_keeps_the_page_s_address(app, client):
    """Found trying it out: the boosted form's answer put /member/give in the history, and a
    reload asked it with GET (405)."""
    with app.app_context():
        supporter_id = make_supporter("giver@example.org").id
    sign_in_supporter(app, client, supporter_id)
    boosted = {"HX-Request": "true", "HX-Boosted": "true"}

    bad = client.post_form("/member/give", {"amount": "", "earmark": ""}, headers=boosted)
    good = client.post_form("/member/give", {"amount": "5", "earmark": ""}, headers=boosted)

    assert (bad.status_code, bad.headers.get("HX-Push-Url")) == (422, "false")
    assert good.status_code == 303 and "HX-Push-Url" not in good.headers
    assert client.get("/member/give").status_code == 405  # what a reload would have asked
