"""Becoming a supporter: choose an amount, go to checkout, come back thanked."""

import logging

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _

from pledges.extensions import db, limiter
from pledges.forms import PRESET_AMOUNTS, PledgeForm, accepted_currencies
from pledges.money import format_money, to_minor
from pledges.payments import gateway
from pledges.services import fund, pledges
from pledges.web.rendering import absolute_url, redirect_to, render_partial
from pledges.web.templating import current_locale

bp = Blueprint("pledge", __name__)
log = logging.getLogger(__name__)


def _preset_labels(currency: str) -> dict[str, str]:
    return {value: format_money(to_minor(value, currency), currency) for value in PRESET_AMOUNTS}


def _form_page(form: PledgeForm, status: int = 200, error: str | None = None) -> Response:
    return render_partial(
        "pledge/_form.html",
        page="pledge/new.html",
        status=status,
        form=form,
        preset_labels=_preset_labels(form.currency),
        currency=form.currency,
        currencies=accepted_currencies(),
        ledger_currency=current_app.config["FUND_CURRENCY"],
        error=error,
    )


@bp.get("/pledge")
def new() -> Response:
    form = PledgeForm(
        cases=fund.open_cases(),
        earmark=request.args.get("case", ""),
        currency_code=request.args.get("currency", ""),
    )
    return _form_page(form)


@bp.post("/pledge")
@limiter.limit("20 per hour")
def create() -> Response:
    cases = fund.open_cases()
    form = PledgeForm(cases=cases)
    if not form.validate_on_submit():
        return _form_page(form, status=422)
    pledge = pledges.start_pledge(
        email=form.email.data,
        amount=form.amount_minor,
        currency=form.currency,
        provider=gateway().name,
        public_name=form.chosen_public_name,
        case=next((case for case in cases if case.slug == form.earmark.data), None),
        locale=current_locale(),
    )
    # The pending pledge is on record before the provider hears of it, so no event can arrive
    # for a pledge we do not have.
    db.session.commit()
    try:
        checkout_url = gateway().start_checkout(
            pledge,
            success_url=absolute_url("pledge.thanks"),
            cancel_url=absolute_url("pledge.new"),
        )
        db.session.commit()
    except Exception:  # noqa: BLE001 - the provider is unreachable or refused; say so, keep the form
        db.session.rollback()
        log.exception("could not start checkout for pledge %s", pledge.id)
        error = _("We could not reach the payment provider. Nothing was charged; please try again.")
        return _form_page(form, status=502, error=error)
    return redirect_to(checkout_url)


@bp.get("/pledge/thanks")
def thanks() -> str:
    return render_template("pledge/thanks.html")
