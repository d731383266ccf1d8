"""A supporter's own page: their pledges and what they have paid."""

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from pledges.extensions import db
from pledges.forms import ConfirmForm
from pledges.models import Supporter
from pledges.services import attribution, pledges, supporters
from pledges.web.rendering import no_store

bp = Blueprint("member", __name__)


@bp.after_request
def private(response: Response) -> Response:
    return no_store(response)


@bp.get("/member")
@login_required
def home() -> str:
    supporter = current_supporter()
    return render_template(
        "member/home.html",
        supporter=supporter,
        pledges=pledges.of_supporter(supporter),
        contributions=supporter.contributions,
        attributions=attribution.for_supporter(supporter),
        requested_names=supporters.requested_names(supporter),
        form=ConfirmForm(),
    )


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


def current_supporter() -> Supporter:
    """The signed-in supporter itself, not the request-bound proxy to them."""
    return current_user._get_current_object()
