"""A supporter's own page: their pledges and what they have paid."""

from flask import Blueprint, Response, render_template
from flask_login import current_user, login_required

from pledges.models import Supporter
from pledges.services import attribution, pledges
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
    )


def current_supporter() -> Supporter:
    """The signed-in supporter itself, not the request-bound proxy to them."""
    return current_user._get_current_object()
