import re

import pytest
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Pledge, PledgeStatus, Supporter
from pledges.services import supporters
from tests.factories import make_case, make_supporter


def pledge_form(**overrides):
    return {"amount": "10", "email": "newcomer@example.org", "earmark": "", **overrides}


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_form_offers_presets_custom_amount_and_open_cases(app, client):
    with app.app_context():
        make_case(title="Protective gear", slug="gear")

    page = client.get("/pledge?case=gear").get_data(as_text=True)

    for preset in ("€5.00", "€10.00", "€20.00", "€50.00"):
        assert preset in page
    assert 'name="custom_amount"' in page
    assert '<option value="gear" selected>Protective gear</option>' in page


def test_income_helper_never_sends_the_income(client):
    page = client.get("/pledge").get_data(as_text=True)

    income_input = re.search(r"<input[^>]*id=\"income\"[^>]*>", page)[0]
    assert "name=" not in income_input


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": "custom", "custom_amount": "0.50"}, "amount", "Choose between 1 and 10000"),
        ({"amount": "custom", "custom_amount": "10000.01"}, "amount", "Choose between 1 and 10000"),
        (
            {"amount": "custom", "custom_amount": "ten"},
            "amount",
            "Enter an amount like 12 or 12.50",
        ),
        (
            {"amount": "custom", "custom_amount": "1.005"},
            "amount",
            "Enter an amount like 12 or 12.50",
        ),
        ({"amount": "custom", "custom_amount": ""}, "amount", "Enter an amount."),
        (
            {"amount": "5", "custom_amount": "25"},
            "amount",
            "Choose “Other” to give the amount you typed",
        ),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"email": ""}, "email", "Enter your email address."),
        ({"show_name": "y", "public_name": ""}, "public_name", "Enter the name to show"),
        ({"earmark": "no-such-case"}, "earmark", "Not a valid choice"),
    ],
)
def test_invalid_input_rerenders_with_message_next_to_field(app, client, overrides, field, message):
    response = client.post_form("/pledge", pledge_form(**overrides), htmx=True)

    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<form id="pledge-form"')  # the fragment, not the page
    error = re.search(rf'<small id="{field}-error" class="error">([^<]*)</small>', body)
    assert error and message in error[1]
    assert f'aria-describedby="{field}-error"' in body
    assert count(app, Pledge) == 0
    assert count(app, Supporter) == 0


def test_invalid_plain_post_gets_the_whole_page(client):
    response = client.post_form("/pledge", pledge_form(email="nope"))

    assert response.status_code == 422
    assert "<html" in response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]


def test_custom_amount_in_cents_becomes_a_pending_pledge(app, client):
    response = client.post_form(
        "/pledge",
        pledge_form(amount="custom", custom_amount="12,50", email=" NewComer@Example.org "),
        htmx=True,
    )

    assert response.status_code == 200
    assert "/demo/checkout/" in response.headers["HX-Redirect"]
    with app.app_context():
        pledge = db.session.scalar(select(Pledge))
        assert (pledge.amount, pledge.currency, pledge.status) == (
            1250,
            "EUR",
            PledgeStatus.PENDING,
        )
        assert pledge.supporter.email == "newcomer@example.org"
        assert pledge.supporter.public_name is None


def test_public_name_waits_on_the_pledge_until_its_owner_confirms_it(app, client):
    client.post_form("/pledge", pledge_form(email="a@example.org", public_name="Ignored"))
    client.post_form(
        "/pledge", pledge_form(email="b@example.org", show_name="y", public_name="Rosa")
    )

    with app.app_context():
        assert supporters.find_by_email("a@example.org").pledges[0].requested_public_name is None
        b = supporters.find_by_email("b@example.org")
        assert b.public_name is None  # not until b@ confirms it, signed in
        assert b.pledges[0].requested_public_name == "Rosa"


def test_form_cannot_rename_an_existing_supporter(app, client):
    with app.app_context():
        make_supporter("known@example.org", public_name="Known")

    client.post_form(
        "/pledge", pledge_form(email="known@example.org", show_name="y", public_name="Hijack")
    )

    with app.app_context():
        assert supporters.find_by_email("known@example.org").public_name == "Known"
        assert count(app, Supporter) == 1


def test_email_and_name_are_encrypted_at_rest(app, client):
    client.post_form(
        "/pledge", pledge_form(email="secret.donor@example.org", show_name="y", public_name="Rosa")
    )

    with app.app_context():
        raw = db.session.execute(db.text("SELECT email, email_index FROM supporters")).one()
        name = db.session.execute(db.text("SELECT requested_public_name FROM pledges")).scalar()
    assert "secret.donor" not in raw.email
    assert "secret.donor" not in raw.email_index
    assert name and "Rosa" not in name


def test_only_open_cases_can_be_earmarked(app, client):
    with app.app_context():
        make_case(slug="closed-case", status="closed")

    response = client.post_form("/pledge", pledge_form(earmark="closed-case"), htmx=True)

    assert response.status_code == 422
    assert count(app, Pledge) == 0


def test_untouched_fields_are_not_marked_invalid(client):
    page = client.get("/pledge").get_data(as_text=True)

    assert "aria-invalid" not in page
    assert '="None"' not in page


def test_the_ticked_amount_is_charged_when_the_typed_one_matches(app, client):
    client.post_form("/pledge", pledge_form(amount="20", custom_amount="20"))

    with app.app_context():
        assert db.session.scalar(select(Pledge)).amount == 20_00
