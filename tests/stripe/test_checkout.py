from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Pledge, PledgeStatus
from tests.factories import make_case


def pledge_form(**overrides):
    return {"amount": "20", "email": "newcomer@example.org", "earmark": "", **overrides}


def test_pledge_opens_a_stripe_checkout_session_in_subscription_mode(app, client, fake_stripe):
    response = client.post_form("/pledge", pledge_form(), htmx=True)

    assert response.status_code == 200
    [session] = fake_stripe.checkout_sessions()
    assert response.headers["HX-Redirect"] == session["url"]
    params = session["params"]
    with app.app_context():
        pledge = db.session.scalar(select(Pledge))
        assert pledge.status == PledgeStatus.PENDING
        pledge_ref = str(pledge.id)
    assert params["mode"] == "subscription"
    assert params["submit_type"] == "donate"
    assert params["client_reference_id"] == pledge_ref
    assert params["subscription_data"]["metadata"] == {"pledge_id": pledge_ref}
    assert params["customer_email"] == "newcomer@example.org"
    assert "customer" not in params
    price = params["line_items"][0]["price_data"]
    assert price["unit_amount"] == "2000"
    assert price["currency"] == "eur"
    assert price["recurring"] == {"interval": "month"}
    assert price["product"].startswith("prod_")
    assert params["success_url"] == "http://pledges.test/pledge/thanks"


def test_every_pledge_uses_the_same_product(client, fake_stripe):
    client.post_form("/pledge", pledge_form(email="a@example.org"))
    client.post_form("/pledge", pledge_form(email="b@example.org", amount="5"))

    products = {
        s["params"]["line_items"][0]["price_data"]["product"]
        for s in fake_stripe.checkout_sessions()
    }
    assert len(products) == 1
    assert len(fake_stripe.objects["product"]) == 1


def test_stripe_calls_carry_idempotency_keys(client, fake_stripe):
    client.post_form("/pledge", pledge_form())

    posts = [r for r in fake_stripe.requests if r["method"] == "POST"]
    assert posts and all(r["headers"].get("Idempotency-Key") for r in posts)


def test_plain_form_post_redirects_to_checkout(client, fake_stripe):
    response = client.post_form("/pledge", pledge_form())

    assert response.status_code == 303
    assert response.headers["Location"].startswith("https://checkout.stripe.com/")


def test_earmark_reaches_the_pledge(app, client, fake_stripe):
    with app.app_context():
        case = make_case(slug="legal-defence")
        case_id = case.id

    client.post_form("/pledge", pledge_form(earmark="legal-defence"))

    with app.app_context():
        assert db.session.scalar(select(Pledge)).case_id == case_id


def test_stripe_unreachable_keeps_the_form_and_says_so(config, make_app):
    app = make_app({**config, "STRIPE_API_BASE": "http://127.0.0.1:9"})

    response = app.test_client().post_form("/pledge", pledge_form(), htmx=True)

    assert response.status_code == 502
    body = response.get_data(as_text=True)
    assert "could not reach the payment provider" in body
    assert 'value="newcomer@example.org"' in body
