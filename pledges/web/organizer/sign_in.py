"""Organizers sign in with an emailed link, then a code from their authenticator app (or a
recovery code). The first time, they enrol: a QR code drawn here, and recovery codes."""

import uuid

from flask import Response, current_app, render_template, request, url_for
from flask_babel import gettext as _

from pledges.extensions import client_address, db, limiter
from pledges.forms import ConfirmForm, EmailForm
from pledges.forms.organizer import CodeForm
from pledges.models import Organizer
from pledges.services import audit, auth_tokens, demo_data, mail_outbox, organizers
from pledges.services import second_factor as factor
from pledges.services.supporters import normalize_email
from pledges.web.organizer import access, bp
from pledges.web.rendering import redirect_to, render_partial


def _address_key() -> str:
    # With the client's address: a stranger asking over and over for someone's link must not
    # lock the real person out of signing in.
    address = organizers.email_index(request.form.get("email", ""))
    return f"organizer-address:{address}:{client_address()}"


def _session_key() -> str:
    """Code attempts count per organizer, wherever they come from."""
    organizer = access.signed_in(fully=False)
    return f"organizer-code:{organizer.id if organizer else client_address()}"


@bp.get("/login")
def login() -> Response:
    return _login_page(EmailForm())


def _login_page(form: EmailForm, status: int = 200, sent: bool = False) -> Response:
    return render_partial(
        "organizer/_login.html", page="organizer/login.html", status=status, form=form, sent=sent
    )


@bp.post("/login")
@limiter.limit("10 per hour")
@limiter.limit("5 per hour", key_func=_address_key)
def request_link() -> Response:
    form = EmailForm()
    if not form.validate_on_submit():
        return _login_page(form, status=422)
    # As for supporters: the worker decides whether the address is an organizer's.
    mail_outbox.enqueue(
        "organizer-sign-in",
        recipient=normalize_email(form.email.data),
        dedupe_key=f"organizer-sign-in:{uuid.uuid4().hex}",
    )
    db.session.commit()
    return _login_page(EmailForm(formdata=None), sent=True)


@bp.get("/login/<token>")
def confirm(token: str) -> Response:
    usable = auth_tokens.is_usable(token, Organizer)
    page = render_template("organizer/confirm.html", form=ConfirmForm(), token=token, usable=usable)
    return Response(page, status=200 if usable else 410)


@bp.post("/login/<token>")
@limiter.limit("30 per hour")
def sign_in(token: str) -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        page = render_template("organizer/confirm.html", form=form, token=token, usable=True)
        return Response(page, status=400)
    organizer = auth_tokens.consume(token, Organizer)
    db.session.commit()
    if organizer is None or not organizer.is_active:
        page = render_template("organizer/confirm.html", form=form, token=token, usable=False)
        return Response(page, status=410)
    access.begin(organizer)
    return redirect_to(url_for("organizer.second_factor"))


@bp.get("/second-factor")
def second_factor() -> Response:
    organizer = access.current()
    if organizer.totp_confirmed_at is None:
        return _enrolment_page(organizer, CodeForm())
    return _code_page(organizer, CodeForm())


def _code_page(organizer: Organizer, form: CodeForm, status: int = 200) -> Response:
    return render_partial(
        "organizer/_code.html",
        page="organizer/code.html",
        status=status,
        form=form,
        demo_code=_demo_code(organizer),
    )


def _enrolment_page(organizer: Organizer, form: CodeForm, status: int = 200) -> Response:
    enrolment = factor.start_enrolment(organizer)
    db.session.commit()
    return render_partial(
        "organizer/_enrol.html",
        page="organizer/enrol.html",
        status=status,
        form=form,
        enrolment=enrolment,
    )


def _demo_code(organizer: Organizer) -> str | None:
    """The demo organizer's code, shown on the page in development with demo payments only:
    trying the demo must not need a phone."""
    if (
        current_app.config["PLEDGES_ENV"] == "development"
        and current_app.config["PAYMENTS"] == "demo"
        and organizer.email == demo_data.ORGANIZER_EMAIL
    ):
        return factor.current_code(organizer)
    return None


@bp.post("/second-factor")
@limiter.limit("10 per 10 minutes", key_func=_session_key)
def check_code() -> Response:
    organizer = access.current()
    form = CodeForm()
    if not form.validate_on_submit():
        return _code_page(organizer, form, status=422)
    if not factor.verify(organizer, form.code.data):
        db.session.rollback()
        form.code.errors.append(
            _("That code is not right, or was used already. Codes change every 30 seconds.")
        )
        return _code_page(organizer, form, status=422)
    audit.record("organizer.sign-in", organizer, by=organizer)
    db.session.commit()
    access.complete()
    return redirect_to(url_for("organizer.dashboard"))


@bp.post("/enrol")
@limiter.limit("10 per 10 minutes", key_func=_session_key)
def enrol() -> Response:
    organizer = access.current()
    if organizer.totp_confirmed_at is not None:
        return redirect_to(url_for("organizer.second_factor"))
    form = CodeForm()
    codes = (
        factor.confirm_enrolment(organizer, form.code.data) if form.validate_on_submit() else None
    )
    if codes is None:
        db.session.rollback()
        if not form.code.errors:
            form.code.errors.append(
                _("That code is not right. Check the phone's clock, and type the newest code.")
            )
        return _enrolment_page(organizer, form, status=422)
    audit.record("organizer.enrol", organizer, by=organizer)
    db.session.commit()
    access.complete()
    response = render_partial(
        "organizer/_recovery_codes.html", page="organizer/recovery_codes.html", codes=codes
    )
    # The codes take the whole page, not the form's place under the enrolment's heading.
    response.headers.update({"HX-Retarget": "#main", "HX-Reswap": "innerHTML"})
    return response


# CSRF is checked for every POST by the app-wide CSRFProtect.
@bp.post("/logout")
def logout() -> Response:
    """The session cookie alone cannot be taken back: signing out raises the organizer's
    session epoch, so a copy of the cookie stops working too (and so do other devices)."""
    organizer = access.current()
    organizer.session_epoch += 1
    db.session.commit()
    access.end()
    return redirect_to(url_for("public.index"))


@bp.post("/logout-everywhere")
def logout_everywhere() -> Response:
    organizers.end_sessions(access.current())
    db.session.commit()
    access.end()
    return redirect_to(url_for("public.index"))
