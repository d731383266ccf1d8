"""Who is signed in as an organizer, and how far. Kept apart from the supporters' sign-in: an
organizer's session is its own, carries whether the second factor was given, and ends when the
organizer is removed or signs out everywhere."""

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import TypeVar

from flask import abort, g, has_request_context, request, session, url_for

from pledges.extensions import db
from pledges.models import Organizer
from pledges.models.types import utcnow
from pledges.web.organizer import bp
from pledges.web.rendering import redirect_to

F = TypeVar("F", bound=Callable)

SESSION_KEY = "organizer"
#: An organizer session lasts a working day; then the link and the code are asked again.
SESSION_LIFETIME = timedelta(hours=12)

#: Views that lead to signing in, open to anyone.
OPEN_VIEWS = frozenset(
    {"organizer.login", "organizer.request_link", "organizer.confirm", "organizer.sign_in"}
)
#: Views for someone who used the link but has not given the second factor yet.
HALFWAY_VIEWS = frozenset(
    {"organizer.second_factor", "organizer.check_code", "organizer.enrol", "organizer.logout"}
)


def begin(organizer: Organizer) -> None:
    """The link was used: the first factor is given."""
    session[SESSION_KEY] = {
        "id": organizer.id,
        "epoch": organizer.session_epoch,
        "since": utcnow().isoformat(),
        "second_factor": False,
    }


def complete() -> None:
    session[SESSION_KEY] = {**session[SESSION_KEY], "second_factor": True}


def end() -> None:
    session.pop(SESSION_KEY, None)


def signed_in(*, fully: bool = True) -> Organizer | None:
    """The organizer this session belongs to, if it is still valid."""
    state = session.get(SESSION_KEY)
    if not isinstance(state, dict) or not isinstance(state.get("id"), int):
        return None
    if fully and not state.get("second_factor"):
        return None
    try:
        since = datetime.fromisoformat(state["since"])
    except (KeyError, TypeError, ValueError):
        return None
    if utcnow() - since > SESSION_LIFETIME:
        return None
    organizer = db.session.get(Organizer, state["id"])
    if organizer is None or not organizer.is_active or organizer.session_epoch != state["epoch"]:
        return None
    return organizer


@bp.app_context_processor
def header() -> dict:
    """Every page's header offers an organizer who is signed in (both factors) their dashboard
    and sign-out, instead of the supporters' "Pledge" and "Sign in"."""

    def signed_in_organizer() -> Organizer | None:
        if not has_request_context() or SESSION_KEY not in session:
            return None  # an email, or a visitor who is no organizer: nothing to look up
        return g.get("organizer") or signed_in()

    return {"signed_in_organizer": signed_in_organizer}


def current() -> Organizer:
    """The organizer of this request; the guard below has made sure there is one."""
    return g.organizer


@bp.before_request
def guard():  # noqa: ANN201
    if request.endpoint in OPEN_VIEWS:
        return None
    halfway = request.endpoint in HALFWAY_VIEWS
    organizer = signed_in(fully=not halfway)
    if organizer is None:
        if signed_in(fully=False) is not None:
            return redirect_to(url_for("organizer.second_factor"))
        end()
        return redirect_to(url_for("organizer.login"))
    g.organizer = organizer
    return None


def admin_only(view: F) -> F:
    @wraps(view)
    def checked(*args: object, **kwargs: object) -> object:
        if not current().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]
