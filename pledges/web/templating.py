"""What every template may call, and the error pages."""

import logging
from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_decimal
from flask import Flask, Response, make_response, render_template, request
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from pledges.extensions import db, login_manager
from pledges.forms import option_tags
from pledges.i18n import LANGUAGES, template_gettext
from pledges.models import Case
from pledges.money import format_money, to_major
from pledges.services.fund import CaseChoice
from pledges.web.api import problems

log = logging.getLogger(__name__)


def current_locale() -> str:
    return str(get_locale() or "en")


@lru_cache(maxsize=1)
def language_choices() -> tuple[tuple[str, str], ...]:
    """Each language named in itself ("Deutsch", "Українська"), as a reader looks for their own."""
    named = ((code, Locale.parse(code).get_display_name(code)) for code in LANGUAGES)
    return tuple((code, name[:1].upper() + name[1:]) for code, name in named)


def page_address() -> str:
    """The address the visitor's browser shows, for a link back to it. A form answered in place
    (its errors, by htmx) was posted elsewhere: htmx says where the page is."""
    if request.method != "GET" and "HX-Current-URL" in request.headers:
        shown = urlsplit(request.headers["HX-Current-URL"])
        return shown.path + (f"?{shown.query}" if shown.query else "")
    return request.full_path if request.query_string else request.path


def format_number(value: int) -> str:
    """A count as the reader writes it: 12,345 in English, 12.345 in German."""
    return format_decimal(value, locale=current_locale())


def format_date(value: date | datetime, format: str = "medium") -> str:  # noqa: A002
    """A day in the reader's language; times are stored in UTC, and so is the day shown."""
    day = value.date() if isinstance(value, datetime) else value
    return _formatted_day(day, format, current_locale())


@lru_cache(maxsize=4096)
def _formatted_day(day: date, format: str, locale: str) -> str:  # noqa: A002
    return babel_format_date(day, format, locale=locale)


def case_options(cases: Iterable[Case | CaseChoice], selected_id: int | None) -> Markup:
    """An `<option>` for each case (its slug, its title), the one with `selected_id` chosen."""
    return option_tags((case.slug, case.title, case.id == selected_id) for case in cases)


def render_error(error: HTTPException) -> Response:
    """An error page. For an htmx request it replaces the whole page, not the fragment that
    asked (a form would otherwise show a page inside itself). The API answers in JSON."""
    if request.path.startswith("/api/"):
        return problems.from_http_error(error)
    messages = {
        403: (_("Not for you"), _("Only the fund's admins can open this page.")),
        404: (_("Not found"), _("There is nothing at this address.")),
        409: (
            _("Already changed"),
            _("Someone changed this in the meantime. Go back and reload the page."),
        ),
        410: (_("Gone"), _("This link is no longer valid.")),
        503: (
            _("Back in a moment"),
            _(
                "The fund's database is not answering. Nothing you sent was saved; "
                "please try again in a minute."
            ),
        ),
        429: (
            _("Too many attempts"),
            _(
                "Please wait before trying again (at most an hour). "
                "This protects supporters' accounts."
            ),
        ),
    }
    if isinstance(error, CSRFError):
        title, message = (
            _("Please try again"),
            _(
                "This page was open for a long time, or your browser forgot its session. "
                "Go back, reload the page and send it again."
            ),
        )
    else:
        title, message = messages.get(error.code or 500, (error.name, error.description or ""))
    response = make_response(render_template("error.html", title=title, message=message))
    response.status_code = error.code or 500
    if request.headers.get("HX-Request"):
        response.headers["HX-Retarget"] = "body"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def database_unavailable(error: DBAPIError) -> Response:
    """The database is down or restarting: a clean 503 saying when to try again, never a 500.
    The pool (pool_pre_ping) reconnects by itself once it is back."""
    log.warning("database unavailable: %s", type(error.orig).__name__)
    try:
        db.session.rollback()
    except DBAPIError:
        pass  # the connection is gone already; the pool discards it
    # The page must not ask the database who the visitor is (Flask-Login would).
    login_manager._update_request_context_with_user()
    response = render_error(ServiceUnavailable())
    response.headers["Retry-After"] = "30"
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        format_money=format_money,
        to_major=to_major,
        format_date=format_date,
        format_number=format_number,
        case_options=case_options,
        current_locale=current_locale,
        language_choices=language_choices,
        page_address=page_address,
        demo_payments=app.config["PAYMENTS"] == "demo",
        fund_name=app.config["FUND_NAME"],
    )
    # Every page's `_()` with its language's catalogue in hand (see i18n.template_gettext).
    app.context_processor(lambda: {"gettext": template_gettext(get_translations())})
    for code in (400, 403, 404, 405, 409, 410, 429):
        app.register_error_handler(code, render_error)
    for unavailable in (OperationalError, InterfaceError):
        app.register_error_handler(unavailable, database_unavailable)
