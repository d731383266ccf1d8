"""What every template may call, and the error pages."""

from flask import Flask, render_template
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from pledges.money import format_money


def current_locale() -> str:
    return str(get_locale() or "en")


def render_error(error: HTTPException) -> tuple[str, int]:
    messages = {
        404: (_("Not found"), _("There is nothing at this address.")),
        410: (_("Gone"), _("This link is no longer valid.")),
        429: (
            _("Too many attempts"),
            _("Please wait a little before trying again. This protects supporters' accounts."),
        ),
    }
    title, message = messages.get(error.code or 500, (error.name, error.description or ""))
    return render_template("error.html", title=title, message=message), error.code or 500


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        format_money=format_money,
        format_date=format_date,
        current_locale=current_locale,
        demo_payments=app.config["PAYMENTS"] == "demo",
        fund_name=app.config["FUND_NAME"],
    )
    for code in (400, 404, 405, 410, 429):
        app.register_error_handler(code, render_error)
