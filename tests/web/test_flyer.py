"""The flyer (/flyer): the fund's appeal, open cases, monthly total and a QR code to the pledge
page, on one printable page; a signed-in supporter's note is printed on it once and kept
nowhere."""

import logging
import re

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import CaseStatus
from tests.factories import make_case, make_pledge, make_supporter
from tests.organizer.signing_in import sign_in_supporter

EMAIL, NAME = "rosa.flyer@example.org", "Rosa Visible"
NOTE = "I give €10 a month because <script>alert('x')</script> nobody should stand alone."


def _fund(app) -> int:
    """A fund with a named supporter, two open cases and one that is not on the flyer."""
    with app.app_context():
        rosa = make_supporter(EMAIL, public_name=NAME)
        make_pledge(rosa, amount=15_00, requested_public_name=NAME)
        make_pledge(amount=10_00)
        make_case(title="Legal defence after an attack", summary="Lawyers for two activists.")
        make_case(title="Medication for a journalist", summary="Three months of insulin.")
        make_case(title="A draft nobody sees", status=CaseStatus.DRAFT)
        return rosa.id


def test_the_flyer_shows_the_fund_its_open_cases_and_the_monthly_total(app, client):
    _fund(app)

    response = client.get("/flyer")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "Test Solidarity Fund" in page
    assert "€25.00" in page and "pledged every month" in page
    assert "Legal defence after an attack" in page and "Lawyers for two activists." in page
    assert "Medication for a journalist" in page and "Three months of insulin." in page
    assert "A draft nobody sees" not in page
    assert 'class="flyer-a5"' in page
    assert "http://pledges.test/pledge" in page


def test_the_qr_code_is_inline_svg_the_csp_allows(app, client):
    page = client.get("/flyer").get_data(as_text=True)

    svg = re.search(r'<figure class="qr" id="qr">(<svg .*?</svg>)</figure>', page, re.DOTALL)
    assert svg, "no inline SVG code on the flyer"
    assert "style=" not in page  # style-src 'self' would drop it
    assert "<script>" not in re.sub(r'<script src="/static/js/flyer.js\?v=\w+" defer>', "", page)


def test_the_paper_size_is_chosen_in_the_address(app, client):
    assert 'class="flyer-a4"' in client.get("/flyer?size=a4").get_data(as_text=True)
    assert 'class="flyer-a5"' in client.get("/flyer?size=letter").get_data(as_text=True)


def test_more_open_cases_than_fit_are_counted_not_listed(app, client):
    with app.app_context():
        for number in range(6):
            make_case(title=f"Open case {number}")

    page = client.get("/flyer").get_data(as_text=True)

    assert "Open case 3" in page and "Open case 4" not in page
    assert "and 2 more cases" in page


def test_nobody_is_named_on_the_flyer_even_for_its_supporter(app, client):
    rosa = _fund(app)
    anonymous = client.get("/flyer").get_data(as_text=True)
    sign_in_supporter(app, client, rosa)
    signed_in = client.get("/flyer").get_data(as_text=True)

    for page in (anonymous, signed_in):
        assert EMAIL not in page and NAME not in page and "@example.org" not in page


def test_a_stranger_gets_no_note_form_and_a_note_in_the_address_is_ignored(app, client):
    page = client.get("/flyer", query_string={"note": "The fund endorses me"}).get_data(
        as_text=True
    )

    assert "The fund endorses me" not in page
    assert 'name="note"' not in page
    assert client.post_form("/flyer", {"note": "Mine"}).status_code in (302, 303)


def test_a_supporters_note_is_printed_escaped_and_kept_nowhere(app, client, caplog):
    rosa = _fund(app)
    sign_in_supporter(app, client, rosa)
    assert 'name="note"' in client.get("/flyer").get_data(as_text=True)

    with caplog.at_level(logging.DEBUG):
        response = client.post_form("/flyer?size=a4", {"note": NOTE})
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert 'class="flyer-a4"' in page
    assert "I give €10 a month because &lt;script&gt;alert(" in page
    assert "<script>alert" not in page
    assert "nobody should stand alone" not in caplog.text
    with client.session_transaction() as session:
        assert "nobody should stand alone" not in str(dict(session))
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                assert "nobody should stand alone" not in str(tuple(row)), table.name
    # The next flyer is the fund's own again.
    assert "nobody should stand alone" not in client.get("/flyer").get_data(as_text=True)


def test_a_note_too_long_is_refused_and_not_printed(app, client):
    sign_in_supporter(app, client, _fund(app))

    response = client.post_form("/flyer", {"note": "x" * 201})

    assert response.status_code == 422
    assert response.headers["Cache-Control"] == "no-store"
    assert 'class="note"' not in response.get_data(as_text=True)
