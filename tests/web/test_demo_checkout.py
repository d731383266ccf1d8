from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Contribution, OutboxEmail, Pledge, PledgeStatus
from pledges.services import fund
from tests.factories import make_case


def start_pledge(client, **overrides) -> str:
    form = {"amount": "20", "email": "demo.payer@example.org", "earmark": "", **overrides}
    response = client.post_form("/pledge", form)
    assert response.status_code == 303
    return response.headers["Location"]


def test_demo_checkout_shows_the_pledge_and_pays_it(app, client):
    with app.app_context():
        make_case(slug="gear", title="Protective gear")
    checkout_url = start_pledge(client, earmark="gear")

    page = client.get(checkout_url).get_data(as_text=True)
    assert "€20.00 a month" in page and "Protective gear" in page
    with app.app_context():
        assert db.session.scalar(select(Pledge)).status == PledgeStatus.PENDING

    response = client.post_form(checkout_url)

    assert response.status_code == 303
    assert response.headers["Location"] == "http://pledges.test/pledge/thanks"
    with app.app_context():
        pledge = db.session.scalar(select(Pledge))
        assert pledge.status == PledgeStatus.ACTIVE
        assert pledge.next_charge_at is not None
        [contribution] = pledge.contributions
        assert contribution.gross == 2000
        assert contribution.fee == 55  # 1.5 % + 25, like a card fee
        assert contribution.net == 1945
        [welcome] = db.session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "welcome"))
        assert welcome.recipient == "demo.payer@example.org"


def test_paying_twice_records_one_contribution(app, client):
    checkout_url = start_pledge(client)

    client.post_form(checkout_url)
    client.post_form(checkout_url)

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contribution)) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 1


def test_forged_checkout_session_is_not_found(client):
    checkout_url = start_pledge(client)

    assert client.get(checkout_url[:-3] + "xyz").status_code == 404


def test_demo_banner_on_every_page(client):
    for path in ("/", "/pledge", "/login"):
        assert "Demo payments — no money moves." in client.get(path).get_data(as_text=True)


def test_cancelled_checkout_leaves_the_pledge_pending_and_off_the_books(app, client):
    start_pledge(client)

    with app.app_context():
        assert db.session.scalar(select(Pledge)).status == PledgeStatus.PENDING
        assert db.session.scalar(select(func.count()).select_from(Contribution)) == 0
    assert "€0.00" in client.get("/").get_data(as_text=True)


def test_a_pledge_in_another_currency_is_converted_at_the_demo_rates(app, client):
    app.config["PLEDGE_CURRENCIES"] = ["EUR", "GBP"]
    checkout_url = start_pledge(client, amount="10", currency_code="GBP")

    assert "£10.00 a month" in client.get(checkout_url).get_data(as_text=True)
    client.post_form(checkout_url)
    with app.app_context():
        [contribution] = db.session.scalar(select(Pledge)).contributions
        assert (contribution.paid_amount, contribution.paid_currency) == (1000, "GBP")
        assert (contribution.gross, contribution.currency) == (1170, "EUR")  # 1.17 € per £
        assert contribution.fee == 43  # 1.5 % + 25 of what arrived
        assert fund.summary().monthly_total == 1170
