"""The fund's public face: aggregates only, never a list of people."""

from flask import Blueprint, abort, render_template
from markupsafe import Markup
from sqlalchemy import text

from pledges.extensions import db
from pledges.markdown import render_markdown
from pledges.services import attribution, fund, public_cache, public_figures
from pledges.web.rendering import page_for_anyone
from pledges.web.templating import current_locale

bp = Blueprint("public", __name__)


#: The fund page shows the first open cases; /cases lists them all.
SHOWN_CASES = 12


@bp.get("/")
def index() -> str:
    # Nothing in it is the visitor's own, so it is made once per language and kept as long as
    # the figures in it (the page around it carries the visitor's session and token).
    section = public_cache.cached(("fund page", current_locale()), _fund_section)
    return page_for_anyone(("/", current_locale()), "public/index.html", fund_section=section)


def _fund_section() -> Markup:
    summary = fund.summary(shown=SHOWN_CASES)
    # With one or two supporters, the count next to the monthly total would say what they give.
    supporters = public_figures.count(summary.supporters)
    return Markup(render_template("public/_fund.html", summary=summary, supporters=supporters))


@bp.get("/cases")
def cases() -> str:
    return render_template("public/cases.html", cases=fund.open_cases())


@bp.get("/cases/<slug>")
def case(slug: str) -> str:
    found = fund.public_case(slug)
    if found is None:
        abort(404)
    funding = public_cache.cached(("case", found.id), lambda: attribution.for_case(found))
    return render_template(
        "public/case.html",
        case=found,
        story=render_markdown(found.story),
        updates=[(update, render_markdown(update.body)) for update in found.updates],
        funding=funding,
        public_names=attribution.public_names(funding),
    )


@bp.get("/healthz")
def healthz() -> tuple[dict, int]:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        db.session.rollback()
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok"}, 200
