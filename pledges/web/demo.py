"""Development stand-ins: the demo checkout that plays Stripe's part, and /dev/mail."""

import mailbox
import os
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup, escape

from pledges.extensions import db
from pledges.forms import ConfirmForm
from pledges.models import Case, Pledge, PledgeStatus
from pledges.money import format_money
from pledges.payments import gateway
from pledges.payments.demo_gateway import DemoGateway

bp = Blueprint("demo", __name__)


def _demo_gateway() -> DemoGateway:
    demo = gateway()
    if not isinstance(demo, DemoGateway):
        abort(404)
    return demo


def _open(session: str) -> tuple[dict, Pledge]:
    opened = _demo_gateway().open_session(session)
    pledge = db.session.get(Pledge, opened["pledge"]) if opened and "pledge" in opened else None
    if pledge is None:
        abort(404)
    return opened, pledge


@bp.get("/demo/checkout/<session>")
def checkout(session: str) -> ResponseReturnValue:
    opened, pledge = _open(session)
    if pledge.status != PledgeStatus.PENDING:
        return redirect(opened["success"], code=303)
    money = format_money(pledge.amount, pledge.currency)
    return _checkout_page(
        _("Monthly pledge"),
        _("%(amount)s a month", amount=money),
        pledge.case,
        url_for("demo.pay", session=session),
        _("Pay %(amount)s (demo)", amount=money),
        opened["cancel"],
    )


def _checkout_page(
    what: str, how_much: str, case: Case | None, action: str, button: str, cancel_url: str
) -> str:
    return render_template(
        "demo/checkout.html",
        what=what,
        how_much=how_much,
        case=case,
        action=action,
        button=button,
        form=ConfirmForm(),
        cancel_url=cancel_url,
    )


@bp.post("/demo/checkout/<session>")
def pay(session: str) -> ResponseReturnValue:
    opened, pledge = _open(session)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    db.session.refresh(pledge, with_for_update=True)  # a double click pays once
    if pledge.status == PledgeStatus.PENDING:
        _demo_gateway().pay(pledge)
        db.session.commit()
    return redirect(opened["success"], code=303)


def _open_gift(session: str) -> dict:
    opened = _demo_gateway().open_session(session)
    if not opened or "gift" not in opened:
        abort(404)
    return opened


@bp.get("/demo/gift/<session>")
def gift(session: str) -> ResponseReturnValue:
    opened = _open_gift(session)
    case = db.session.get(Case, opened["gift"]["case"]) if opened["gift"]["case"] else None
    money = format_money(opened["gift"]["amount"], opened["gift"]["currency"])
    return _checkout_page(
        _("One-off gift"),
        money,
        case,
        url_for("demo.pay_gift", session=session),
        _("Give %(amount)s (demo)", amount=money),
        opened["cancel"],
    )


@bp.post("/demo/gift/<session>")
def pay_gift(session: str) -> ResponseReturnValue:
    opened = _open_gift(session)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _demo_gateway().pay_gift(opened["gift"])
    db.session.commit()
    return redirect(opened["success"], code=303)


@bp.get("/demo/card/<session>")
def card(session: str) -> ResponseReturnValue:
    opened, pledge = _open(session)
    return render_template(
        "demo/card.html", pledge=pledge, session=session, form=ConfirmForm(), back=opened["cancel"]
    )


@bp.post("/demo/card/<session>")
def save_card(session: str) -> ResponseReturnValue:
    opened, pledge = _open(session)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _demo_gateway().update_card(pledge)
    db.session.commit()
    return redirect(opened["success"], code=303)


def _maildir() -> mailbox.Maildir:
    if current_app.config["PLEDGES_ENV"] != "development":
        abort(404)
    path = current_app.config["DEV_MAILDIR"]
    for folder in ("cur", "new", "tmp"):  # a Maildir nobody has written to yet
        os.makedirs(os.path.join(path, folder), exist_ok=True)
    return mailbox.Maildir(path, create=False)


def _part(message: Message, content_type: str) -> str:
    for part in message.walk():
        if part.get_content_type() == content_type:
            payload = part.get_payload(decode=True) or b""
            return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return ""


URL = re.compile(r"https?://[^\s<>\"]+")


def linkify(text: str) -> Markup:
    """Escape a plain-text email and make its addresses clickable."""
    escaped = str(escape(text))
    return Markup(URL.sub(lambda match: f'<a href="{match[0]}">{match[0]}</a>', escaped))  # noqa: S704


def _header(message: Message, name: str) -> str:
    return str(make_header(decode_header(message.get(name, ""))))


@bp.get("/dev/mail")
def mail_index() -> str:
    box = _maildir()
    messages = [
        {
            "key": key,
            "to": _header(message, "To"),
            "subject": _header(message, "Subject"),
            "received": datetime.fromtimestamp(message.get_date(), UTC),
        }
        for key, message in box.items()
    ]
    messages.sort(key=lambda found: found["received"], reverse=True)
    return render_template("demo/mail_index.html", messages=messages)


@bp.get("/dev/mail/<key>")
def mail_message(key: str) -> str:
    box = _maildir()
    try:
        message = box[key]
    except KeyError:
        abort(404)
    return render_template(
        "demo/mail_message.html",
        key=key,
        headers={name: _header(message, name) for name in ("From", "To", "Subject", "Message-ID")},
        text=linkify(_part(message, "text/plain")),
    )
