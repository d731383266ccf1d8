"""The app as gunicorn serves it, plus two routes that do no work of ours: the baseline
bench.http compares every page with (the same middleware, headers and gunicorn), and the same
for a signed-in supporter (the session checked against the database, as every member page does),
which says how much of the member page's cost is signing in."""

from flask_login import login_required

from wsgi import app


@app.get("/_bench/hello")
def hello() -> str:
    return "hello"


@app.get("/_bench/signed-in")
@login_required
def signed_in() -> str:
    return "hello"
