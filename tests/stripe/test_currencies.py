"""A pledge in another currency than the ledger's: the supporter pays in theirs, the ledger
counts what Stripe's balance transaction says reached the fund, in its own."""

from datetime import date

import pytest
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Contribution, Pledge, StripeEvent
from pledges.services import fund, ledger
from tests.factories import make_case
from tests.organizer.signing_in import sign_in_supporter
from tests.stripe.fake_stripe import RATES_TO_ACCOUNT


@pytest.fixture
def config(config):
    return {**config, "FUND_CURRENCY": "EUR", "PLEDGE_CURRENCIES": ["EUR", "USD", "GBP"]}


def pledge_in_dollars(app, client, fake_stripe, post_webhook, *, fee=50):
    response = client.post_form(
        "/pledge",
        {"amount": "10", "currency_code": "USD", "email": "abroad@example.org", "earmark": ""},
    )
    assert response.status_code == 303
    [session] = fake_stripe.checkout_sessions()
    paid = fake_stripe.complete_checkout(session["id"], fee=fee)
    assert post_webhook(fake_stripe.event("invoice.paid", paid["invoice"])).status_code == 200
    return session, paid


def test_the_pledge_form_offers_the_accepted_currencies(client):
    page = client.get("/pledge").get_data(as_text=True)
    for code in ("EUR", "USD", "GBP"):
        assert f"/pledge?currency={code}" in page
    dollars = client.get("/pledge?currency=USD").get_data(as_text=True)
    assert 'name="currency_code" type="hidden" value="USD"' in dollars
    assert "$20.00" in dollars  # the preset amounts, in the chosen currency
    assert "The fund keeps its books in EUR" in dollars
    # A currency the fund does not take is not offered, and not silently used.
    assert 'value="EUR"' in client.get("/pledge?currency=JPY").get_data(as_text=True)


def test_a_currency_the_fund_does_not_take_is_refused_next_to_the_form(app, client, fake_stripe):
    response = client.post_form(
        "/pledge",
        {"amount": "10", "currency_code": "JPY", "email": "a@example.org", "earmark": ""},
        htmx=True,
    )
    assert response.status_code == 422
    assert "The fund does not take pledges in this currency." in response.get_data(as_text=True)
    assert fake_stripe.checkout_sessions() == []
    with app.app_context():
        assert db.session.scalar(select(Pledge)) is None


def test_stripe_charges_in_the_pledge_currency_and_the_ledger_counts_what_arrived(
    app, client, fake_stripe, post_webhook
):
    session, paid = pledge_in_dollars(app, client, fake_stripe, post_webhook, fee=41)

    price = session["params"]["line_items"][0]["price_data"]
    assert (price["currency"], price["unit_amount"]) == ("usd", "1000")
    settled = round(1000 * RATES_TO_ACCOUNT["usd"])
    with app.app_context():
        contribution = db.session.scalar(select(Contribution))
        assert (contribution.paid_amount, contribution.paid_currency) == (1000, "USD")
        assert (contribution.currency, contribution.gross) == ("EUR", settled)
        assert (contribution.fee, contribution.net) == (41, settled - 41)
        pledge = db.session.scalar(select(Pledge))
        assert (pledge.amount, pledge.currency) == (1000, "USD")
        # The monthly figure counts the dollar pledge at the rate its payment got.
        assert fund.summary().monthly_total == settled
        # A disbursement in euros takes what arrived, to the cent, and no more.
        case = make_case()
        ledger.record_disbursement(case, settled - 41, date.today())
        db.session.commit()
        assert ledger.given(contribution.id) == settled - 41
        assert ledger.check() == []


def test_a_refund_in_dollars_comes_off_the_ledger_in_euros(app, client, fake_stripe, post_webhook):
    _session, paid = pledge_in_dollars(app, client, fake_stripe, post_webhook)
    invoice_id = paid["invoice"]["id"]

    charge = fake_stripe.refund(invoice_id, amount=250)  # a quarter, in dollars
    assert post_webhook(fake_stripe.event("charge.refunded", charge)).status_code == 200
    with app.app_context():
        contribution = db.session.scalar(select(Contribution))
        quarter = contribution.gross // 4
        assert contribution.refunded == quarter
        assert contribution.paid_returned == 250
    charge = fake_stripe.refund(invoice_id, amount=750)  # the rest
    assert post_webhook(fake_stripe.event("charge.refunded", charge)).status_code == 200
    with app.app_context():
        contribution = db.session.scalar(select(Contribution))
        assert contribution.refunded == contribution.gross  # all of it, never more
        assert contribution.available == 0
        assert ledger.check() == []


def test_a_payment_given_back_in_parts_is_given_back_to_the_cent(
    app, client, fake_stripe, post_webhook
):
    """Found by review: each part was converted to euros on its own and rounded down, so a
    $3.33 refund showed as $3.32, and $3.33 refunded plus $6.67 lost to a dispute left a cent
    in the books."""
    _session, paid = pledge_in_dollars(app, client, fake_stripe, post_webhook)
    invoice_id = paid["invoice"]["id"]

    charge = fake_stripe.refund(invoice_id, amount=333)
    post_webhook(fake_stripe.event("charge.refunded", charge))
    with app.app_context():
        contribution = db.session.scalar(select(Contribution))
        assert contribution.paid_returned == 333
        assert contribution.refunded == 333 * contribution.gross // 1000
    dispute = fake_stripe.dispute(invoice_id, amount=667)
    post_webhook(fake_stripe.event("charge.dispute.created", dispute))

    with app.app_context():
        contribution = db.session.scalar(select(Contribution))
        assert contribution.paid_returned == 1000
        assert contribution.refunded + contribution.disputed == contribution.gross
        assert (contribution.available, contribution.fee_borne) == (0, 0)
        assert ledger.check() == []


def test_a_cent_refunded_of_a_converted_payment_shows_on_the_statement(
    app, client, fake_stripe, post_webhook
):
    """$0.01 is €0.00 at the payment's rate: the ledger loses nothing, but the statement the
    supporter keeps says what went back to their card."""
    _session, paid = pledge_in_dollars(app, client, fake_stripe, post_webhook)
    post_webhook(fake_stripe.event("charge.refunded", fake_stripe.refund(paid["invoice"]["id"], 1)))
    with app.app_context():
        contribution = db.session.scalar(select(Contribution))
        assert (contribution.refunded, contribution.paid_returned) == (0, 1)
        assert contribution.status == "part-refunded"
        supporter_id, year = contribution.supporter_id, contribution.paid_at.year
    sign_in_supporter(app, client, supporter_id)

    statement = client.get(f"/member/statement/{year}").get_data(as_text=True)

    assert 'data-label="Refunded or disputed">$0.01</td>' in statement  # on its own row


def test_the_supporter_sees_what_they_paid_and_what_reached_the_fund(
    app, client, fake_stripe, post_webhook
):
    pledge_in_dollars(app, client, fake_stripe, post_webhook, fee=50)
    with app.app_context():
        contribution = db.session.scalar(select(Contribution))
        supporter_id, net = contribution.supporter_id, contribution.net
        year = contribution.paid_at.year
    sign_in_supporter(app, client, supporter_id)

    page = client.get("/member").get_data(as_text=True)
    euros = f"€{net // 100}.{net % 100:02d}"
    assert "$10.00" in page
    assert f"{euros} reached the fund" in page
    # Where the money went is told in euros, from what the payments came to once changed (the
    # fee is one of its parts); "reached the fund" is after the fee, found confusing beside it.
    gross = contribution.gross
    assert f"Your payments came to €{gross // 100}.{gross % 100:02d} once changed into EUR" in page
    assert "Your payments, changed into EUR" in page
    assert page.count("reached the fund") == 1
    assert "You have paid" not in page and "What you paid" not in page
    # Each amount to type says its currency: a new monthly one in dollars, a gift in euros.
    assert "New monthly amount, in USD" in page and "Amount, in EUR" in page
    statement = client.get(f"/member/statement/{year}").get_data(as_text=True)
    assert "$10.00" in statement and euros in statement


def test_a_webhook_settled_in_another_currency_than_the_ledger_is_not_counted(
    app, client, fake_stripe, post_webhook, monkeypatch
):
    """Stripe pays out in the account's currency; a ledger in another one is misconfigured,
    and the payment waits (the worker tries the event again) rather than being counted
    wrongly."""
    app.config["FUND_CURRENCY"] = "GBP"
    app.config["PLEDGE_CURRENCIES"] = ["GBP", "USD"]
    client.post_form(
        "/pledge",
        {"amount": "10", "currency_code": "USD", "email": "a@example.org", "earmark": ""},
    )
    [session] = fake_stripe.checkout_sessions()
    paid = fake_stripe.complete_checkout(session["id"])
    event = fake_stripe.event("invoice.paid", paid["invoice"])
    response = post_webhook(event)
    assert response.status_code == 200  # received: Stripe need not send it again
    with app.app_context():
        assert db.session.scalar(select(Contribution)) is None
        waiting = db.session.get(StripeEvent, event["id"])
        assert (waiting.handled_at, waiting.attempts, waiting.last_error) == (
            None,
            1,
            "SettlementError",
        )
