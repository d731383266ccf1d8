"""Passwordless sign-in by emailed link. Whether an address belongs to a supporter never shows:
the same answer, status and work for every address."""

import uuid

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from htmx_flask import request as htmx_request

from pledges.extensions import client_address, db, limiter, login_manager
from pledges.forms import ConfirmForm, EmailForm
from pledges.models import Supporter
from pledges.services import auth_tokens, mail_outbox, supporter_sessions, supporters
from pledges.web.rendering import no_store, redirect_to, render_partial

bp = Blueprint("auth", __name__)


SESSION_KEY = "supporter_session"


@login_manager.user_loader
def load_supporter(user_id: str) -> Supporter | None:
    """The supporter, only while the session the cookie names is open on the server."""
    if not user_id.isdigit():
        return None
    return supporter_sessions.signed_in(int(user_id), session.get(SESSION_KEY))


@login_manager.unauthorized_handler
def signed_out() -> Response:
    """To the sign-in page, whole: an htmx change made from a page whose session has ended
    (signed out on every device) would otherwise get the sign-in form in place of a card."""
    flash(_("You are not signed in. Ask for a sign-in link to go on."))
    login_page = url_for("auth.login")
    return redirect_to(login_page) if htmx_request.htmx else redirect(login_page)


def _address_key() -> str:
    """Rate-limit per address without keeping the address in the limiter's storage."""
    # With the client's address: a stranger must not lock the real supporter out.
    address = supporters.email_index(request.form.get("email", ""))
    return f"address:{address}:{client_address()}"


def _login_page(
    form: EmailForm, status: int = 200, sent: bool = False, email: str = ""
) -> Response:
    return render_partial(
        "auth/_login.html",
        page="auth/login.html",
        status=status,
        form=form,
        sent=sent,
        email=email,
    )


@bp.get("/login")
def login() -> Response:
    return _login_page(EmailForm())


@bp.post("/login")
@limiter.limit("10 per hour")
@limiter.limit("5 per hour", key_func=_address_key)
def request_link() -> Response:
    form = EmailForm()
    if not form.validate_on_submit():
        return _login_page(form, status=422)
    # The worker decides whether the address is known, so this request does the same work for
    # every address; the link is also made there, so it never sits in the database in clear.
    mail_outbox.enqueue(
        "sign-in",
        recipient=supporters.normalize_email(form.email.data),
        dedupe_key=f"sign-in:{uuid.uuid4().hex}",
    )
    db.session.commit()
    return _login_page(EmailForm(formdata=None), sent=True, email=form.email.data)


@bp.get("/login/<token>")
def confirm(token: str) -> Response:
    """A page with one button: mail scanners that open links cannot use the token up."""
    usable = auth_tokens.is_usable(token)
    page = render_template("auth/confirm.html", form=ConfirmForm(), token=token, usable=usable)
    return no_store(Response(page, status=200 if usable else 410))


@bp.post("/login/<token>")
@limiter.limit("30 per hour")
def sign_in(token: str) -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return no_store(
            Response(render_template("auth/confirm.html", form=form, token=token, usable=True), 400)
        )
    supporter = auth_tokens.consume(token)
    db.session.commit()
    if supporter is None:
        page = render_template("auth/confirm.html", form=form, token=token, usable=False)
        return no_store(Response(page, status=410))
    session[SESSION_KEY] = supporter_sessions.begin(supporter)
    db.session.commit()
    login_user(supporter)
    return redirect(url_for("member.home"), code=303)


@bp.get("/logout")
def logout_page() -> str:
    """Someone typing the address gets a button, not "Method Not Allowed"."""
    return render_template("auth/logout.html", form=ConfirmForm())


@bp.post("/logout")
@login_required
def logout() -> Response:
    supporter_sessions.end(session.pop(SESSION_KEY, None))
    db.session.commit()
    logout_user()
    flash(_("You are signed out."))
    return redirect(url_for("public.index"), code=303)


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere() -> Response:
    """For a lost phone or a shared computer: every browser signed in as them is signed out."""
    supporter_sessions.end_all(current_user._get_current_object())
    session.pop(SESSION_KEY, None)
    db.session.commit()
    logout_user()
    flash(_("You are signed out on every device. A new link signs you in again."))
    return redirect(url_for("public.index"), code=303)
