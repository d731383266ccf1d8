from tests.factories import make_organizer
from tests.organizer.signing_in import sign_in, use_link


def test_the_link_alone_opens_no_organizer_page(app, client):
    with app.app_context():
        organizer_id = make_organizer().id
    use_link(app, client, organizer_id)

    response = client.get("/organizer/cases")

    assert response.status_code == 303
    assert response.location.endswith("/organizer/second-factor")


def test_link_and_code_open_the_dashboard(app, client):
    with app.app_context():
        organizer_id = make_organizer().id
    sign_in(app, client, organizer_id)

    response = client.get("/organizer/")

    assert response.status_code == 200
    assert "Pledged each month" in response.get_data(as_text=True)
