import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from pledges.extensions import db
from pledges.models import Allocation, CaseUpdate, Contribution, Disbursement
from pledges.models.types import utcnow
from pledges.services import auth_tokens
from tests.factories import make_case, make_pledge, make_supporter
from tests.ledger.history import disburse, pay


def sign_in(app, client, email: str) -> None:
    with app.app_context():
        from pledges.services import supporters

        raw = auth_tokens.issue(supporters.find_by_email(email))
        db.session.commit()
    assert client.post_form(f"/login/{raw}").status_code == 303


def money_rows(page: str) -> dict[str, str]:
    """The 'Where your money went' table as {label: amount}."""
    section = page[page.index('id="where"') :]
    section = section[: section.index("</section>")]
    found = {}
    for label, amount in re.findall(
        r"<th scope=\"row\">(.*?)</th>\s*<td class=\"amount\">([^<]+)</td>", section, re.S
    ):
        text = re.sub(r"<[^>]+>", " ", label)
        found[" ".join(text.split())] = amount
    return found


def fund_with_history(app):
    with app.app_context():
        medicine = make_case(title="Medicine in exile", slug="medicine", goal=30_00)
        lawyers = make_case(title="Lawyers after the attack", slug="lawyers")
        me = make_supporter("me@example.org")
        general = make_pledge(me, amount=10_00)
        earmarked = make_pledge(me, amount=5_00, case=lawyers)
        other = make_pledge(make_supporter("other@example.org", public_name="Rosa"), amount=50_00)
        pay(general, 10_00, on_day=1, fee=40)
        pay(earmarked, 5_00, on_day=1, fee=33)
        pay(other, 50_00, on_day=2, fee=100)
        pay(general, 10_00, on_day=31, fee=40)
        disburse(medicine, 12_00, on_day=10)
        disburse(lawyers, 8_00, on_day=12)
        db.session.add(
            CaseUpdate(
                case=medicine, title="Medicine delivered", body="It arrived.", published_at=utcnow()
            )
        )
        db.session.commit()


def test_member_sees_where_their_money_went_to_the_cent(app, client):
    fund_with_history(app)
    sign_in(app, client, "me@example.org")

    page = client.get("/member").get_data(as_text=True)
    table = money_rows(page)

    # Medicine (day 10) took my 9.60 first, then 2.40 of Rosa's; lawyers (day 12) took my
    # earmarked 4.67, then 3.33 of Rosa's. My second 10.00 came after both.
    assert table["Medicine in exile (open) Latest: Medicine delivered"] == "€9.60"
    assert table["Lawyers after the attack (open)"] == "€4.67"
    assert table["Still in the fund, waiting for the next payout"] == "€9.60"
    assert table["Fees taken by the payment processor"] == "€1.13"
    assert table["What you paid"] == "€25.00"
    assert "it was honoured: €4.67 of it has been paid out to the case, and €0.00 waits" in page
    assert 'class="split-bar"' in page
    assert "Rosa" not in page and "other@example.org" not in page


def test_member_page_queries_stay_few_whatever_the_history(app, client):
    fund_with_history(app)
    with app.app_context():
        me = make_pledge(make_supporter("long@example.org"), amount=3_00)
        for month in range(36):
            pay(me, 3_00, on_day=month * 30, fee=20)
    sign_in(app, client, "long@example.org")

    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/member").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # BEGIN, the supporter with their session, pledges, contributions, what they funded, the
    # latest updates, and the open cases the earmark can be changed to: none grows with history.
    assert len(statements) <= 7, statements


def test_case_page_shows_aggregates_and_only_chosen_names(app, client):
    fund_with_history(app)

    page = client.get("/cases/medicine").get_data(as_text=True)

    assert "Paid out so far: €12.00" in page
    assert "fewer than 3 supporters" in page
    assert "Among them, by their own choice: Rosa." in page
    assert "me@example.org" not in page
    assert "Medicine delivered" in page
    assert '<progress value="1200" max="3000"' in page


def test_record_disbursement_command_and_ledger_check(app, runner):
    fund_with_history(app)

    recorded = runner.invoke(
        args=[
            "pledges",
            "record-disbursement",
            "medicine",
            "20.00",
            "--date",
            "2026-03-01",
            "--note",
            "pharmacy",
        ]
    )
    assert recorded.exit_code == 0, recorded.output
    assert "€20.00 to Medicine in exile on 2026-03-01" in recorded.output

    assert runner.invoke(args=["pledges", "ledger-check"]).exit_code == 0
    rebuilt = runner.invoke(args=["pledges", "reallocate"])
    assert rebuilt.exit_code == 0 and "3 disbursements" in rebuilt.output


def test_record_disbursement_refuses_bad_input_and_records_nothing(app, runner):
    fund_with_history(app)

    unknown = runner.invoke(args=["pledges", "record-disbursement", "no-such-case", "10"])
    assert unknown.exit_code != 0 and "no case with the slug" in unknown.output
    assert "lawyers, medicine" in unknown.output
    future = runner.invoke(
        args=["pledges", "record-disbursement", "medicine", "10", "--date", "2999-01-01"]
    )
    assert future.exit_code != 0 and "in the future" in future.output
    bad_amount = runner.invoke(args=["pledges", "record-disbursement", "medicine", "ten"])
    assert bad_amount.exit_code != 0 and "450.00" in bad_amount.output
    rebuilt = runner.invoke(args=["pledges", "reallocate"])
    assert "2 disbursements" in rebuilt.output


def test_ledger_check_names_a_broken_row(app, runner):
    fund_with_history(app)
    with app.app_context():
        # Someone edits the database by hand: the first payment now gave more than it had.
        db.session.execute(
            update(Allocation).where(Allocation.contribution_id == 1).values(amount=50_00)
        )
        db.session.commit()

    result = runner.invoke(args=["pledges", "ledger-check"])

    assert result.exit_code == 1
    assert "contribution 1: gave 5000 but can give 960" in result.output


def test_demo_supporter_sees_where_their_money_went(app, client, runner):
    assert runner.invoke(args=["pledges", "demo"]).exit_code == 0
    assert runner.invoke(args=["pledges", "ledger-check"]).exit_code == 0
    sign_in(app, client, "supporter@example.org")

    table = money_rows(client.get("/member").get_data(as_text=True))

    funded = [label for label in table if "(open)" in label]
    assert funded, table
    assert table["What you paid"] == "€60.00"


def test_refund_after_a_disbursement_shows_on_the_member_page(app, client):
    fund_with_history(app)
    with app.app_context():
        from pledges.payments.demo_gateway import DemoGateway

        DemoGateway("unused-secret-key-for-tests").refund(db.session.get(Contribution, 1))
        db.session.commit()
    sign_in(app, client, "me@example.org")

    table = money_rows(client.get("/member").get_data(as_text=True))

    assert table["Refunded to you"] == "€10.00"
    assert table["What you paid"] == "€25.00"
    assert "Medicine in exile (open) Latest: Medicine delivered" not in table
    assert table["Fees taken by the payment processor"] == "€0.73"


def test_ledger_check_names_an_allocation_outside_its_pool_or_time(app, runner):
    fund_with_history(app)
    with app.app_context():
        # Hand-edited: the payment made on day 31 is said to have funded the day-10 disbursement.
        db.session.execute(
            update(Allocation).where(Allocation.contribution_id == 1).values(contribution_id=4)
        )
        db.session.commit()

    result = runner.invoke(args=["pledges", "ledger-check"])

    assert result.exit_code == 1
    assert (
        "allocation of contribution 4 to disbursement 1: paid after the disbursement's date"
        in result.output
    )


@pytest.fixture
def server_ahead_of_utc(monkeypatch):
    """The server's own clock in a zone a day ahead of UTC's for some hours each day."""
    monkeypatch.setenv("TZ", "Etc/GMT-14")  # POSIX names have the sign reversed: UTC+14
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def test_a_disbursement_may_be_dated_today_anywhere_and_no_later(app, runner, server_ahead_of_utc):
    """Found by review: the server's local day was the limit (ahead of UTC, two days on were
    taken); then, with UTC's, an organizer in Kyiv just after midnight could not record a
    payment made that day."""
    with app.app_context():
        slug = make_case().slug
    kyiv_today = (utcnow() + timedelta(hours=2)).date()
    beyond = utcnow().date() + timedelta(days=2)  # after today in every zone

    def record(day) -> int:  # noqa: ANN001
        args = ["pledges", "record-disbursement", slug, "10", "--date", day.isoformat()]
        return runner.invoke(args=args).exit_code

    assert (record(kyiv_today), record(beyond)) == (0, 2)
    with app.app_context():
        assert [d.paid_on for d in db.session.scalars(select(Disbursement))] == [kyiv_today]
