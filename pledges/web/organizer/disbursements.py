"""Money paid out: record it (seeing first what the pool holds), and reverse a mistake."""

from datetime import date

from flask import Response, flash, render_template, request, url_for
from flask_babel import gettext as _

from pledges.extensions import db
from pledges.forms.organizer import DisbursementForm, ReverseForm, parse_amount
from pledges.models import Disbursement
from pledges.models.types import utc_today
from pledges.money import format_money
from pledges.services import cases, disbursements
from pledges.web.organizer import access, bp
from pledges.web.rendering import redirect_to, render_partial
from pledges.web.templating import format_date


@bp.get("/disbursements")
def disbursement_list() -> Response:
    form = DisbursementForm(formdata=None, cases=cases.payable_cases())
    form.case.data = request.args.get("case", "")  # "Record a payment" from a case's page
    return _page(form)


def _page(form: DisbursementForm, status: int = 200) -> Response:
    return render_partial(
        "organizer/_disbursement_form.html",
        page="organizer/disbursements.html",
        status=status,
        form=form,
        pool=_pool(form),
        history=disbursements.history(),
    )


def _pool(form: DisbursementForm) -> dict | None:
    """What the chosen case's pools hold on the chosen day, and what the typed amount would
    need from other income; None until a case is chosen."""
    case = form.chosen_case
    if case is None:
        return None
    paid_on = form.paid_on.data if isinstance(form.paid_on.data, date) else utc_today()
    figure = disbursements.pool_for(case, min(paid_on, utc_today()))
    try:
        amount = parse_amount(form.amount, case.currency)
    except ValueError:  # ValidationError is one; nothing typed yet
        amount = None
    return {
        "case": case,
        "later": disbursements.later_payments(case.currency, paid_on),
        "figure": figure,
        "amount": amount,
        "other_income": figure.other_income_for(amount) if amount else 0,
    }


@bp.get("/disbursements/pool")
def pool() -> str:
    """The live figure beside the form, as the organizer chooses a case, an amount, a day."""
    form = DisbursementForm(request.args, cases=cases.payable_cases(), meta={"csrf": False})
    return render_template("organizer/_pool.html", pool=_pool(form))


@bp.post("/disbursements")
def record_disbursement() -> Response:
    form = DisbursementForm(cases=cases.payable_cases())
    if request.form.get("action") == "check":  # without script: see the pool, record nothing
        return _page(form)
    if not form.validate_on_submit():
        return _page(form, status=422)
    recorded = disbursements.record(
        form.chosen_case,
        form.amount_minor,
        form.paid_on.data,
        form.note.data or "",
        by=access.current(),
        request_key=form.request_key.data or None,
    )
    db.session.commit()
    flash(_message(recorded))
    return redirect_to(url_for("organizer.disbursement_list"))


def _message(recorded: disbursements.Recorded) -> str:
    paid = recorded.disbursement
    if recorded.repeated:
        return _("This form was sent before: the payment was recorded once, not again.")
    message = _(
        "Recorded %(amount)s to “%(case)s”: %(covered)s from supporters, %(other)s from "
        "other income.",
        amount=format_money(paid.amount, paid.currency),
        case=paid.case.title,
        covered=format_money(paid.amount - paid.other_income, paid.currency),
        other=format_money(paid.other_income, paid.currency),
    )
    for other_id, (before, after) in recorded.recalculated.items():
        other = db.session.get(Disbursement, other_id)
        message += " " + _(
            "The later payment of %(amount)s to “%(case)s” on %(day)s now takes %(after)s "
            "from other income (before: %(before)s).",
            amount=format_money(other.amount, other.currency),
            case=other.case.title,
            day=format_date(other.paid_on),
            after=format_money(after, other.currency),
            before=format_money(before, other.currency),
        )
    return message


@bp.get("/disbursements/<int:disbursement_id>/reverse")
def reverse_form(disbursement_id: int) -> Response:
    original = db.get_or_404(Disbursement, disbursement_id)
    return _reverse_page(original, ReverseForm(formdata=None))


def _reverse_page(original: Disbursement, form: ReverseForm, status: int = 200) -> Response:
    return render_partial(
        "organizer/_reverse_form.html",
        page="organizer/reverse.html",
        status=status,
        original=original,
        form=form,
    )


@bp.post("/disbursements/<int:disbursement_id>/reverse")
def reverse(disbursement_id: int) -> Response:
    original = db.get_or_404(Disbursement, disbursement_id)
    form = ReverseForm()
    if not original.in_ledger:  # the page says it is reversed already
        return _reverse_page(original, form, status=409)
    if not form.validate_on_submit():
        return _reverse_page(original, form, status=422)
    if form.paid_on.data < original.paid_on:
        form.paid_on.errors.append(_("A correction cannot be dated before the payment itself."))
        return _reverse_page(original, form, status=422)
    try:
        disbursements.reverse(original, form.paid_on.data, form.note.data, by=access.current())
    except ValueError:  # reversed a moment ago, by another click or another organizer
        db.session.rollback()
        return _reverse_page(original, form, status=409)
    db.session.commit()
    flash(_("The payment is reversed; the money it had used is free again."))
    return redirect_to(url_for("organizer.disbursement_list"))
