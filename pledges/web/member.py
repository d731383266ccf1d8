"""A supporter's own page: their pledges and what they have paid."""

from flask import Blueprint, Response, render_template
from flask_login import current_user, login_required

from pledges.services import attribution, pledges
from pledges.web.rendering import no_store

bp = Blueprint("member", __name__)


@bp.after_request
def private(response: Response) -> Response:
    return no_store(response)


@bp.get("/member")
@login_required
def home() -> str:
    return render_template(
        "member/home.html",
        supporter=current_user,
        pledges=pledges.of_supporter(current_user),
        contributions=current_user.contributions,
        attributions=attribution.for_supporter(current_user),
    )
