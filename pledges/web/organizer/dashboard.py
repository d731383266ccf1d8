"""The dashboard and the bookkeeping exports."""

from flask import Response, abort, render_template, stream_with_context

from pledges.extensions import db
from pledges.services import audit, exports
from pledges.services import dashboard as figures
from pledges.web.charts import income_chart
from pledges.web.organizer import access, bp


@bp.get("/")
def dashboard() -> str:
    built = figures.build()
    return render_template(
        "organizer/dashboard.html", figures=built, chart=income_chart(built.months, built.currency)
    )


@bp.get("/exports")
def export_list() -> str:
    return render_template("organizer/exports.html", kinds=exports.KINDS)


@bp.get("/exports/<kind>.csv")
def export(kind: str) -> Response:
    if kind not in exports.KINDS:
        abort(404)
    organizer = access.current()
    with_emails = organizer.is_admin and kind == "contributions"
    audit.record("export", kind, "with emails" if with_emails else "", by=organizer)
    db.session.commit()
    body = exports.as_csv(exports.rows(kind, with_emails=with_emails))
    return Response(
        stream_with_context(body),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )
