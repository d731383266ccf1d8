"""What every template may call, and the error pages."""

from datetime import date, datetime
from functools import lru_cache

from babel.dates import format_date as babel_format_date
from flask import Flask, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from pledges.money import format_money


def current_locale() -> str:
    return str(get_locale() or "en")


def format_date(value: date | datetime, format: str = "medium") -> str:  # noqa: A002
    """A day in the reader's language; times are stored in UTC, and so is the day shown."""
    day = value.date() if isinstance(value, datetime) else value
    return _formatted_day(day, format, current_locale())


@lru_cache(maxsize=4096)
def _formatted_day(day: date, format: str, locale: str) -> str:  # noqa: A002
    return babel_format_date(day, format, locale=locale)


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
