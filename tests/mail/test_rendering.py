"""Each email reads in its reader's language exactly as Flask-Babel's own `_()` would write
it: the mail worker binds the templates' `_()` to one catalogue per language, for speed."""

import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from flask import current_app

from pledges.extensions import db
from pledges.models import CaseUpdate, OutboxEmail
from pledges.services import emails, ledger
from tests.factories import make_case, make_contribution, make_pledge, make_supporter

OCTOBER = datetime(2026, 10, 10, 12, tzinfo=UTC)


def one_full_stop(rendered: emails.RenderedEmail) -> emails.RenderedEmail:
    single = re.compile(r"(?<!\.)\.\.(?!\.)")
    return replace(
        rendered,
        subject=single.sub(".", rendered.subject),
        text=single.sub(".", rendered.text),
        html=single.sub(".", rendered.html),
    )


def render_both_ways(rows: list[OutboxEmail], monkeypatch) -> tuple[list, list]:  # noqa: ANN001
    with emails.rendering(rows) as render:
        bound = [render(row) for row in rows]
    with monkeypatch.context() as patch:
        patch.setattr(
            emails, "template_gettext", lambda _: current_app.jinja_env.globals["gettext"]
        )
        with emails.rendering(rows) as render:
            installed = [render(row) for row in rows]
    return bound, installed


@pytest.mark.parametrize("locale", ["en", "de", "uk", "ru"])
def test_emails_read_as_flask_babels_gettext_writes_them(app, monkeypatch, locale):
    with app.app_context():
        reader = make_supporter(f"{locale}@example.org", locale=locale, public_name="Ada <3 & co")
        case = make_case(title="Rent & <b>repairs</b>")
        make_contribution(make_pledge(reader), gross=20_00, fee=50, paid_at=OCTOBER)
        ledger.record_disbursement(case, 12_34, date(2026, 10, 20))
        db.session.add(CaseUpdate(case=case, title="Paid <in full>", body="…",
                                  published_at=datetime(2026, 10, 25, tzinfo=UTC)))  # fmt: skip
        db.session.commit()
        address = reader.email
        rows = [
            OutboxEmail(kind="digest", recipient=address, context={"month": "2026-10"}),
            OutboxEmail(kind="account-changed", recipient=address,
                        context={"change": "name-shown"}),
            OutboxEmail(kind="account-changed", recipient=address,
                        context={"change": "preferences", "wants_reminders": True,
                                 "wants_digest": False, "wants_updates": True}),
        ]  # fmt: skip

        bound, installed = render_both_ways(rows, monkeypatch)

    # Beside Flask-Babel's `_()`, ours only keeps a value's own full stop from being doubled
    # ("вкл.." in Russian).
    assert bound == [one_full_stop(rendered) for rendered in installed]
    assert all(".." not in rendered.text.replace("...", "") for rendered in bound)
    assert all(rendered is not None for rendered in bound)
    if locale == "de":
        assert "Wohin es ging, auf den Cent genau:" in bound[0].text
    assert "Rent &amp; &lt;b&gt;repairs&lt;/b&gt;" in bound[0].html
    assert "Rent & <b>repairs</b>" in bound[0].text


def test_a_chosen_name_is_text_in_the_html_part_of_its_confirmation(app):
    """The change partials are plain text shared by both parts: the HTML part escapes them."""
    with app.app_context():
        address = make_supporter("named@example.org", public_name="<script>x()</script>").email
        rows = [
            OutboxEmail(kind="account-changed", recipient=address,
                        context={"change": "name-shown"}),
        ]  # fmt: skip
        with emails.rendering(rows) as render:
            [rendered] = [render(row) for row in rows]
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;x()&lt;/script&gt;" in rendered.html
    assert "<script>x()</script>" in rendered.text
