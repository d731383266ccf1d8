"""The public read API: the fund's and the cases' figures, aggregates only."""

from datetime import date

from pledges.extensions import db
from pledges.models import CaseStatus
from pledges.services import cases, ledger
from tests.factories import make_case, make_contribution, make_pledge, make_supporter


def test_the_fund_in_figures_with_small_counts_not_given(app, client):
    with app.app_context():
        case = make_case(status=CaseStatus.OPEN)
        for _ in range(2):
            make_contribution(make_pledge(make_supporter(), amount=10_00), gross=10_00)
        ledger.record_disbursement(case, 5_00, date.today())
        db.session.commit()

    answer = client.get("/api/v1/fund")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "public, max-age=60"
    fund = answer.json
    assert fund["monthly_pledged"] == 20_00
    assert fund["active_supporters"] == "fewer than 3"
    assert (fund["paid_out_this_year"], fund["paid_out_total"], fund["open_cases"]) == (500, 500, 1)
    # Unchanged figures: the same ETag, so a cache asks and gets 304 without a body.
    again = client.get("/api/v1/fund", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304

    with app.app_context():
        make_pledge(make_supporter(), amount=5_00)
        db.session.commit()
    assert client.get("/api/v1/fund").json["active_supporters"] == 3


def test_published_cases_with_updates_and_no_drafts(app, client):
    with app.app_context():
        open_case = make_case(status=CaseStatus.OPEN, title="Medicine", goal=300_00)
        make_case(status=CaseStatus.DRAFT, title="Secret plan", slug="secret-plan")
        supporters = [make_supporter() for _ in range(3)]
        for supporter in supporters:
            make_contribution(make_pledge(supporter), gross=10_00)
        ledger.record_disbursement(open_case, 25_00, date.today())
        cases.post_update(open_case, "Bought", "The **first** box <script>x</script>",
                          notify=False, by=None)  # fmt: skip
        db.session.commit()
        slug = open_case.slug

    listed = client.get("/api/v1/cases").json["cases"]
    assert [case["slug"] for case in listed] == [slug]
    [case] = listed
    assert (case["goal"], case["paid_out"], case["supporting_pledges"]) == (300_00, 25_00, 3)
    [update] = case["updates"]
    assert update["body_markdown"] == "The **first** box <script>x</script>"
    assert "<strong>first</strong>" in update["body_html"] and "<script" not in update["body_html"]
    assert client.get(f"/api/v1/cases/{slug}").json == case
    missing = client.get("/api/v1/cases/secret-plan")
    assert missing.status_code == 404
    assert missing.content_type == "application/problem+json"
    assert missing.json["status"] == 404


def test_no_supporter_appears_anywhere(app, client):
    with app.app_context():
        case = make_case(status=CaseStatus.OPEN)
        supporter = make_supporter("visible@example.org", public_name="Rosa")
        make_contribution(make_pledge(supporter), gross=10_00)
        ledger.record_disbursement(case, 5_00, date.today())
        db.session.commit()
        slug = case.slug
    bodies = [client.get(path).get_data(as_text=True)
              for path in ("/api/v1/fund", "/api/v1/cases", f"/api/v1/cases/{slug}")]  # fmt: skip
    assert not any("visible@example.org" in body or "Rosa" in body for body in bodies)
    assert '"supporting_pledges":"fewer than 3"' in bodies[1]


def test_a_busy_client_is_told_when_to_come_back(client):
    for _ in range(120):
        assert client.get("/api/v1/fund").status_code == 200
    refused = client.get("/api/v1/fund")
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
