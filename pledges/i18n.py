"""Which language a page or an email is in."""

from collections.abc import Callable
from typing import Any

from babel.support import NullTranslations
from flask import current_app, g, has_request_context, request, session
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

#: The languages with a complete catalog in translations/. English is also the source language.
LANGUAGES = ("en", "de", "uk", "ru")

#: Where a visitor who is not signed in keeps their choice (the signed session cookie).
SESSION_KEY = "locale"


def select_locale() -> str:
    """The visitor's stored choice, else what their browser asks for, else the fund's default.

    A signed-in supporter's choice is stored with them, so that their emails follow it too.
    """
    if not has_request_context():  # the CLI and the mail worker choose their own locale
        return default_locale()
    if not g.get("shared_response"):
        if getattr(current_user, "is_authenticated", False) and current_user.locale in LANGUAGES:
            return current_user.locale
        chosen = session.get(SESSION_KEY)
        if chosen in LANGUAGES:
            return chosen
    return request.accept_languages.best_match(LANGUAGES) or default_locale()


def as_shared_response() -> None:
    """This answer may be kept by a shared cache and given to anyone: its language follows only
    the request's Accept-Language (which the answer must name in Vary), never a stored choice,
    and the session is not even read."""
    g.shared_response = True


def template_gettext(translations: NullTranslations) -> Callable[..., str]:
    """The templates' `_()` bound to one language's catalogue, given to templates in their
    context, where it stands before the one Flask-Babel installs. That one looks the catalogue
    up anew for every string (a hundred on a member page, a dozen in a digest); this one does
    what it does then (Jinja's "newstyle" gettext) with the catalogue in hand."""

    @pass_context
    def gettext(context: Context, string: str, **variables: Any) -> str:
        translated = _one_full_stop(translations.ugettext(string), variables)
        if context.eval_ctx.autoescape:
            translated = Markup(translated)
        return translated % variables

    return gettext


def _one_full_stop(translated: str, variables: dict[str, Any]) -> str:
    """A value that brings its own full stop ("Ana P.", a Ukrainian date's "2027 р.") ends the
    sentence with it, instead of getting a second one."""
    for name, value in variables.items():
        if isinstance(value, str) and value.endswith(".") and not value.endswith(".."):
            translated = translated.replace(f"%({name})s.", f"%({name})s")
    return translated


def default_locale() -> str:
    return current_app.config["BABEL_DEFAULT_LOCALE"]
