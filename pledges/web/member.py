"""A supporter's own page: their pledges, what they have paid, and every change they can make
to their pledge themselves. A change answers htmx with the pledge's card, swapped in place,
and a plain form post with the page again."""

import logging
from collections.abc import Callable

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from htmx_flask import request as htmx_request

from pledges.extensions import client_address, db, limiter
from pledges.forms import ConfirmForm
from pledges.forms.member import (
    AmountForm,
    CancelForm,
    EarmarkForm,
    GiftForm,
    PauseForm,
    PublicNameForm,
)
from pledges.models import Case, Contribution, Pledge, PledgeStatus, Supporter
from pledges.payments import ProviderError, gateway
from pledges.services import (
    accounts,
    attribution,
    fund,
    payment_problems,
    pledge_changes,
    pledges,
    supporters,
)
from pledges.web.auth import SESSION_KEY
from pledges.web.rendering import absolute_url, no_store, redirect_to

bp = Blueprint("member", __name__)
log = logging.getLogger(__name__)


def _supporter_key() -> str:
    """Count a signed-in supporter's changes, each of which emails them or calls the payment
    provider: a script with one session cookie must not flood either."""
    if not current_user.is_authenticated:
        return client_address()
    cipher = current_app.extensions["pledges_cipher"]
    return cipher.blind_index(f"supporter:{current_user.id}")[:32]


# One budget for all of a supporter's changes (not one per kind: pausing and resuming would
# double it). What was done costs, and so does what the payment provider refused (it was asked);
# what was refused here costs nothing: a form's errors, a stale page's change (409), an expired
# form (400). Leaving is never held back; updating the card, which a failed payment asks for,
# has a budget of its own (below).
limiter.shared_limit(
    "30 per hour",
    scope="member-changes",
    key_func=_supporter_key,
    methods=["POST"],
    exempt_when=lambda: request.endpoint == "member.delete_account",
    deduct_when=lambda response: response.status_code < 400 or response.status_code >= 500,
)(bp)


@bp.after_request
def private(response: Response) -> Response:
    return no_store(response)


@bp.get("/member")
@login_required
def home() -> Response:
    return _page()


def _page(status: int = 200, **context: object) -> Response:
    """The member page, with any form given filled in and showing its errors."""
    supporter = current_supporter()
    cases = fund.case_choices()  # to choose from; a form that was sent found its own cases
    context.setdefault("gift_form", _gift_form(cases, formdata=None))
    context.setdefault("name_form", PublicNameForm(formdata=None))
    opened = context.pop("opened", None)
    forms = {name: context.pop(name) for name in list(context) if name.endswith("_form")}
    page = render_template(
        "member/home.html",
        supporter=supporter,
        pledges=pledges.of_supporter(supporter),
        contributions=supporter.contributions,
        attributions=attribution.for_supporter(supporter),
        requested_names=supporters.requested_names(supporter),
        form=ConfirmForm(),
        opened=opened,
        gift_thanks=request.args.get("gift") == "thanks",
        **context,
        **_card_forms(earmark_cases=cases, **forms),
    )
    return Response(page, status=status)


def _gift_form(cases: list[Case] | list[fund.CaseChoice], **kwargs: object) -> GiftForm:
    return GiftForm(cases=cases, currency=current_app.config["FUND_CURRENCY"], **kwargs)


@bp.post("/member/public-name")
@login_required
def public_name() -> Response:
    """Confirm or turn down the public name typed on a pledge form."""
    form = ConfirmForm()
    if not form.validate_on_submit() or not request.form.get("pledge", "").isdigit():
        abort(400)
    show = request.form.get("decision") == "show"
    supporters.settle_public_name(current_supporter(), int(request.form["pledge"]), show=show)
    db.session.commit()
    return redirect(url_for("member.home"), code=303)


@bp.post("/member/name")
@login_required
def choose_name() -> Response:
    """Choose the name shown among a case's supporters, or go back to anonymous."""
    supporter = current_supporter()
    if request.form.get("action") == "remove":
        accounts.set_public_name(supporter, None)
        db.session.commit()
        flash(_("You are anonymous again: no name is shown anywhere."))
        return redirect_to(url_for("member.home", _anchor="privacy"))
    form = PublicNameForm()
    if not form.validate_on_submit():
        return _page(422, name_form=form)
    accounts.set_public_name(supporter, form.name.data)
    db.session.commit()
    flash(_("Your name is shown as “%(name)s” where you gave.", name=form.name.data))
    return redirect_to(url_for("member.home", _anchor="privacy"))


# -- changes to a pledge ------------------------------------------------------------------------

MESSAGES = {
    "amount": lambda: _("Your new amount applies from the next charge."),
    "pause": lambda: _("Your pledge is paused."),
    "resume": lambda: _("Your pledge continues."),
    "cancel": lambda: _("Your pledge is canceled. Nothing more will be charged."),
    "restart": lambda: _("Your pledge continues: the cancellation is undone."),
    "earmark": lambda: _("Your next payments go where you chose."),
}


def _card_forms(**bound: object) -> dict:
    """Every change form, empty unless one is given filled in (with its errors)."""
    forms = {
        "has_live_pledge": any(
            pledge.status in pledge_changes.LIVE for pledge in current_supporter().pledges
        ),
        "pause_form": PauseForm(formdata=None),
        "cancel_form": CancelForm(formdata=None),
        "cancel_ends_on": pledge_changes.ends_if_canceled,
        "resume_charges_on": pledge_changes.charges_again_on,
    }
    forms.update(bound)
    if "earmark_cases" not in forms:
        forms["earmark_cases"] = fund.case_choices()
    return forms


def _own_pledge(pledge_id: int) -> Pledge:
    """Only the supporter's own pledge: anyone else's is not found, not forbidden."""
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or pledge.supporter_id != current_user.id:
        abort(404)
    return pledge


def _card(pledge: Pledge, status: int = 200, error: str | None = None, **forms: object) -> Response:
    page = render_template(
        "member/_pledge.html", pledge=pledge, error=error, opened=forms.pop("opened", None),
        **_card_forms(**forms),
    )  # fmt: skip
    return Response(page, status=status)


def _done(pledge: Pledge, change: str, changed: bool) -> Response:
    db.session.commit()
    if htmx_request.htmx and not htmx_request.htmx.boosted:
        return _card(pledge)
    if changed:
        flash(MESSAGES[change]())
    return redirect(url_for("member.home", _anchor=f"pledge-{pledge.id}"), code=303)


def _refused(pledge: Pledge, status: int, error: str | None = None, **forms: object) -> Response:
    db.session.rollback()
    if htmx_request.htmx and not htmx_request.htmx.boosted:
        return _card(pledge, status=status, error=error, **forms)
    return _page(status, error=error, error_pledge=pledge.id, **forms)


def _apply(pledge: Pledge, change: str, action: Callable[[], bool]) -> Response:
    """Make a change and answer: the new card, or why it could not be made."""
    try:
        changed = action()
    except pledge_changes.NotPossible:
        return _refused(
            pledge,
            409,
            _("That is not possible for this pledge as it stands now. Reload the page."),
        )
    except ProviderError:
        log.exception("pledge %s: the payment provider refused %s", pledge.id, change)
        return _refused(
            pledge,
            502,
            _("We could not reach the payment provider. Nothing was changed; please try again."),
        )
    return _done(pledge, change, changed)


@bp.post("/member/pledges/<int:pledge_id>/amount")
@login_required
def change_amount(pledge_id: int) -> Response:
    pledge = _own_pledge(pledge_id)
    form = AmountForm(pledge=pledge)
    if not form.validate_on_submit():
        return _refused(pledge, 422, amount_form=form, opened="amount")
    return _apply(pledge, "amount", lambda: pledge_changes.change_amount(pledge, form.amount_minor))


@bp.post("/member/pledges/<int:pledge_id>/pause")
@login_required
def pause(pledge_id: int) -> Response:
    pledge = _own_pledge(pledge_id)
    form = PauseForm()
    if not form.validate_on_submit():
        # The card shows no message beside the months: say it in the card's own error line.
        error = next(iter(form.errors.values()))[0]
        return _refused(pledge, 422, error=error, pause_form=form, opened="pause")
    return _apply(pledge, "pause", lambda: pledge_changes.pause(pledge, int(form.months.data)))


@bp.post("/member/pledges/<int:pledge_id>/resume")
@login_required
def resume(pledge_id: int) -> Response:
    pledge = _own_pledge(pledge_id)
    return _apply(pledge, "resume", lambda: pledge_changes.resume(pledge))


@bp.post("/member/pledges/<int:pledge_id>/cancel")
@login_required
def cancel(pledge_id: int) -> Response:
    pledge = _own_pledge(pledge_id)
    if pledge_changes.is_ending(pledge):
        # Canceled already (in another tab): its reason, right or wrong, changes nothing.
        return _done(pledge, "cancel", changed=False)
    form = CancelForm()
    if not form.validate_on_submit():
        return _refused(pledge, 422, cancel_form=form, opened="cancel")
    return _apply(pledge, "cancel", lambda: pledge_changes.cancel(pledge, form.reason.data))


@bp.post("/member/pledges/<int:pledge_id>/restart")
@login_required
def restart(pledge_id: int) -> Response:
    """Undo a cancellation still to come, or, for a pledge that has ended, go to checkout
    for the same pledge anew: one step either way."""
    pledge = _own_pledge(pledge_id)
    if pledge.status != PledgeStatus.CANCELED:
        return _apply(pledge, "restart", lambda: pledge_changes.restart(pledge))
    if any(other.status in pledge_changes.LIVE for other in pledge.supporter.pledges):
        # Restarted already (a second tap, or in another tab): never a second subscription.
        flash(_("You have a monthly pledge already: change it below."))
        return redirect_to(url_for("member.home"))
    renewed = pledges.restart_ended(pledge)
    db.session.commit()
    url = gateway().start_checkout(
        renewed, success_url=absolute_url("pledge.thanks"), cancel_url=absolute_url("member.home")
    )
    db.session.commit()
    return redirect_to(url)


@bp.post("/member/pledges/<int:pledge_id>/earmark")
@login_required
def earmark(pledge_id: int) -> Response:
    pledge = _own_pledge(pledge_id)
    form = EarmarkForm(cases=fund.open_cases())
    if not form.validate_on_submit():
        return _refused(pledge, 422, error=next(iter(form.errors.values()))[0], opened="earmark")
    return _apply(
        pledge, "earmark", lambda: pledge_changes.change_earmark(pledge, form.chosen_case)
    )


@bp.post("/member/give")
@login_required
def give() -> Response:
    """A one-off gift beside (or instead of) the monthly pledge, through the same checkout."""
    supporter = current_supporter()
    form = _gift_form(fund.open_cases())
    if not form.validate_on_submit():
        return _page(422, gift_form=form, opened="gift")
    try:
        url = gateway().start_gift_checkout(
            supporter,
            form.amount_minor,
            form.currency,
            form.chosen_case,
            success_url=absolute_url("member.home", gift="thanks"),
            cancel_url=absolute_url("member.home"),
        )
    except ProviderError:
        log.exception("no gift checkout for supporter %s", supporter.id)
        message = _(
            "We could not reach the payment provider. Nothing was charged; please try again."
        )
        return _page(502, gift_form=form, opened="gift", gift_error=message)
    db.session.commit()
    return redirect_to(url)


@bp.post("/member/pledges/<int:pledge_id>/card")
@login_required
@limiter.limit("10 per hour", key_func=_supporter_key)
def update_card(pledge_id: int) -> Response:
    """To the provider's page for a new card (Stripe's Billing Portal), and back here."""
    pledge = _own_pledge(pledge_id)
    try:
        url = gateway().card_update_url(pledge, return_url=absolute_url("member.home"))
    except ProviderError:
        log.exception("pledge %s: no card update page from the payment provider", pledge.id)
        flash(_("We could not reach the payment provider. Please try again in a moment."))
        return redirect_to(url_for("member.home"))
    db.session.commit()
    return redirect_to(url)


@bp.get("/member/receipts/<int:contribution_id>")
@login_required
def receipt(contribution_id: int) -> str:
    """Our own printable receipt, for payments without one from the provider (demo)."""
    contribution = db.session.get(Contribution, contribution_id)
    if contribution is None or contribution.supporter_id != current_user.id:
        abort(404)
    return render_template("member/receipt.html", contribution=contribution)


@bp.get("/member/statement/<int:year>")
@login_required
def statement(year: int) -> str:
    """Everything given in a year, with totals, to print or keep."""
    supporter = current_supporter()
    given = sorted(
        (c for c in supporter.contributions if c.paid_at.year == year), key=lambda c: c.paid_at
    )
    # A total for each currency paid in, in the order the rows first show it.
    totals: dict[str, dict[str, int]] = {}
    for c in given:
        total = totals.setdefault(c.paid_currency, {"gross": 0, "returned": 0})
        total["gross"] += c.paid_amount
        total["returned"] += c.paid_returned
    return render_template(
        "member/statement.html",
        supporter=supporter,
        year=year,
        contributions=given,
        totals=totals,
        to_fund=sum(c.available for c in given),
        ledger_currency=current_app.config["FUND_CURRENCY"],
    )


@bp.context_processor
def payment_trouble() -> dict:
    """Every member page shows a failed or unconfirmed payment, with the way to fix it."""
    if not current_user.is_authenticated:
        return {}
    supporter = current_supporter()
    # Only a pledge whose payment failed can have one: most pages need no query for it.
    troubled = any(pledge.status == PledgeStatus.PAST_DUE for pledge in supporter.pledges)
    return {"problems": payment_problems.open_for(supporter) if troubled else []}


# -- preferences and privacy --------------------------------------------------------------------

PREFERENCES = ("wants_reminders", "wants_digest", "wants_updates")


@bp.post("/member/preferences")
@login_required
def preferences() -> Response:
    """Checkboxes: a box not ticked is not sent, so each is read as present or not."""
    wants = {name: request.form.get(name) == "on" for name in PREFERENCES}
    accounts.set_preferences(current_supporter(), **wants)
    db.session.commit()
    flash(_("Your email preferences are saved."))
    return redirect_to(url_for("member.home", _anchor="preferences"))


@bp.get("/member/data.json")
@login_required
def my_data() -> Response:
    response = jsonify(accounts.export(current_supporter()))
    response.headers["Content-Disposition"] = 'attachment; filename="my-pledges-data.json"'
    return response


@bp.post("/member/delete")
@login_required
def delete_account() -> Response:
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm that you want your account deleted."))
        return redirect_to(url_for("member.home", _anchor="privacy"))
    try:
        accounts.erase(current_supporter())
    except ProviderError:
        db.session.rollback()
        log.exception("could not delete supporter %s at the payment provider", current_user.id)
        flash(_("We could not reach the payment provider. Nothing was deleted; please try again."))
        return redirect_to(url_for("member.home", _anchor="privacy"))
    session.pop(SESSION_KEY, None)
    db.session.commit()
    logout_user()
    return redirect_to(url_for("member.deleted"))


@bp.get("/member/deleted")
def deleted() -> str:
    return render_template("member/deleted.html")


def current_supporter() -> Supporter:
    """The signed-in supporter itself, not the request-bound proxy to them."""
    return current_user._get_current_object()
