"""What each kind of queued email says. Rendered at sending time from ids, so that a sign-in
token exists only in the message itself and is valid from the moment it is sent."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from babel.dates import format_date as babel_format_date
from flask import current_app, g, render_template, url_for
from flask_babel import force_locale, format_date, get_locale, get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from pledges.extensions import db
from pledges.i18n import template_gettext
from pledges.markdown import render_markdown
from pledges.models import (
    CaseStatus,
    CaseUpdate,
    Contribution,
    Organizer,
    OutboxEmail,
    OutboxStatus,
    PaymentProblem,
    Pledge,
    Supporter,
)
from pledges.money import format_money
from pledges.services import auth_tokens, cases, digest, organizers, supporters, unsubscribe


@dataclass
class RenderedEmail:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


def _render(
    template: str,
    subject: str,
    unsubscribe_from: tuple[Supporter, str] | None = None,
    **context: object,
) -> RenderedEmail:
    headers = {}
    if unsubscribe_from is not None:
        # RFC 8058: mail programs offer a one-click button that POSTs to this address.
        url = url_for(
            "unsubscribe.confirm", token=unsubscribe.token(*unsubscribe_from), _external=True
        )
        headers = {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        context["unsubscribe_url"] = url
    context = {
        "fund_name": current_app.config["FUND_NAME"],
        "subject": subject,
        "login_url": url_for("auth.login", _external=True),
        "gettext": template_gettext(get_translations()),
        **context,
    }
    return RenderedEmail(
        subject=subject,
        text=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
        headers=headers,
    )


def _sign_in_url(supporter: Supporter) -> str:
    return url_for("auth.confirm", token=auth_tokens.issue(supporter), _external=True)


def _welcome(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    pledge = db.session.get(Pledge, row.context["pledge_id"])
    if pledge is None:
        return None
    return _render(
        "welcome",
        _("Thank you for your monthly pledge to %(fund)s", fund=current_app.config["FUND_NAME"]),
        pledge=pledge,
        sign_in_url=_sign_in_url(pledge.supporter),
    )


def _dropped_since_claimed(row: OutboxEmail) -> bool:
    """Whether the account's links were voided (`auth_tokens.void_unused`) after this worker
    took the email: read again, so that no link is made for it now."""
    status = db.session.scalar(select(OutboxEmail.status).where(OutboxEmail.id == row.id))
    return status == OutboxStatus.DROPPED


def _sign_in(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    # Unknown addresses are dropped here, in the worker, so the request that queued the email
    # looks and takes the same whether or not the address belongs to a supporter.
    if supporter is None or _dropped_since_claimed(row):
        return None
    return _render(
        "sign_in",
        _("Your sign-in link for %(fund)s", fund=current_app.config["FUND_NAME"]),
        sign_in_url=_sign_in_url(supporter),
    )


def _organizer_link(organizer: Organizer, lifetime: timedelta) -> str:
    token = auth_tokens.issue(organizer, lifetime=lifetime)
    return url_for("organizer.confirm", token=token, _external=True)


def _organizer_invite(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    organizer = db.session.get(Organizer, row.context["organizer_id"])
    if organizer is None or organizer.removed_at is not None or _dropped_since_claimed(row):
        return None
    return _render(
        "organizer_invite",
        _("You are invited to help run %(fund)s", fund=current_app.config["FUND_NAME"]),
        organizer=organizer,
        sign_in_url=_organizer_link(organizer, auth_tokens.INVITATION_LIFETIME),
    )


def _organizer_sign_in(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    # As for supporters: an unknown address is dropped here, never by the request.
    organizer = organizers.find_by_email(row.recipient)
    if organizer is None or organizer.removed_at is not None or _dropped_since_claimed(row):
        return None
    return _render(
        "organizer_sign_in",
        _("Your organizer sign-in link for %(fund)s", fund=current_app.config["FUND_NAME"]),
        sign_in_url=_organizer_link(organizer, auth_tokens.TOKEN_LIFETIME),
    )


#: Stripe's reasons a refund fails (`failure_reason`), as a treasurer would say them.
REFUND_FAILURES = {
    "expired_or_canceled_card": _l("the card has expired or was canceled"),
    "lost_or_stolen_card": _l("the card was reported lost or stolen"),
    "declined": _l("the bank declined it"),
    "insufficient_funds": _l("the fund's Stripe balance was too low"),
    "charge_for_pending_refund_disputed": _l("the supporter disputed the payment meanwhile"),
    "unknown": _l("Stripe gave no reason"),
}


def _refund_failed(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    organizer = organizers.find_by_email(row.recipient)
    contribution = db.session.get(Contribution, row.context["contribution_id"])
    if organizer is None or organizer.removed_at is not None or contribution is None:
        return None
    reason = row.context["reason"]
    return _render(
        "refund_failed",
        _("A refund failed at Stripe: %(fund)s", fund=current_app.config["FUND_NAME"]),
        contribution=contribution,
        amount=row.context["amount"],
        currency=row.context["currency"],
        refund_id=row.context["refund_id"],
        reason=REFUND_FAILURES.get(reason or "unknown", reason),
        dashboard_url=url_for("organizer.dashboard", _external=True),
    )


def _case_update(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    update = db.session.get(CaseUpdate, row.context["update_id"])
    if update is None or supporter is None or update.case.status == CaseStatus.DRAFT:
        return None
    if not supporter.wants_updates:  # turned off after it was queued
        return None
    return _render(
        "case_update",
        _("News from %(case)s", case=update.case.title),
        unsubscribe_from=(supporter, "updates"),
        update=update,
        case=update.case,
        body_html=render_markdown(update.body),
        reason=cases.reason_for(supporter, update.case),
        case_url=url_for("public.case", slug=update.case.slug, _external=True),
        member_url=url_for("member.home", _external=True),
    )


def _pledge_changed(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    pledge = db.session.get(Pledge, row.context["pledge_id"])
    if pledge is None or supporter is None or pledge.supporter_id != supporter.id:
        return None
    state = {
        key: datetime.fromisoformat(row.context[key]) if row.context.get(key) else None
        for key in ("next_charge_at", "paused_until", "ends_at")
    }
    return _render(
        "pledge_changed",
        _change_subject(row.context["change"], current_app.config["FUND_NAME"]),
        change=row.context["change"],
        details=row.context,
        state=state,
        member_url=url_for("member.home", _external=True),
    )


def _change_subject(change: str, fund: str) -> str:
    """What changed, in the subject: five emails all called "changed" read as one in an inbox
    (found trying it out)."""
    if change == "amount":
        return _("Your pledge to %(fund)s: a new amount", fund=fund)
    if change == "paused":
        return _("Your pledge to %(fund)s is paused", fund=fund)
    if change == "resumed":
        return _("Your pledge to %(fund)s is resumed", fund=fund)
    if change == "canceled":
        return _("Your pledge to %(fund)s is canceled", fund=fund)
    if change == "restarted":
        return _("Your pledge to %(fund)s continues", fund=fund)
    return _("Your pledge to %(fund)s: where it goes", fund=fund)  # the earmark


def _action_required(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    problem = db.session.scalar(
        select(PaymentProblem).where(PaymentProblem.invoice_id == row.context["invoice_id"])
    )
    if problem is None or problem.resolved_at is not None or supporter is None:
        return None
    return _render(
        "action_required",
        _(
            "Your bank asks you to confirm your payment to %(fund)s",
            fund=current_app.config["FUND_NAME"],
        ),
        problem=problem,
        member_url=url_for("member.home", _external=True),
    )


def _gift_thanks(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    gift = db.session.get(Contribution, row.context["contribution_id"])
    if gift is None or supporter is None or gift.supporter_id != supporter.id:
        return None
    monthly = any(p.status in ("active", "past_due", "paused") for p in supporter.pledges)
    return _render(
        "gift_thanks",
        _("Thank you for your gift to %(fund)s", fund=current_app.config["FUND_NAME"]),
        gift=gift,
        monthly=monthly,
        member_url=url_for("member.home", _external=True),
        pledge_url=url_for("pledge.new", _external=True),
    )


def _account_changed(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    change = row.context["change"]
    if supporter is None or (change == "name-shown" and not supporter.public_name):
        return None  # a name shown, then taken back before this went: that email says so
    return _render(
        "account_changed",
        _("Your account at %(fund)s: changed", fund=current_app.config["FUND_NAME"]),
        change=change,
        details=row.context,
        public_name=supporter.public_name,
        member_url=url_for("member.home", _external=True),
    )


def _upcoming_charge(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    pledge = db.session.get(Pledge, row.context["pledge_id"])
    if pledge is None or supporter is None or not supporter.wants_reminders:
        return None
    charge_on = datetime.fromisoformat(row.context["charge_on"])
    renews = pledge.status == "active" and pledge.ends_at is None and pledge.next_charge_at
    if not renews or pledge.next_charge_at.date() != charge_on.date():
        return None  # paused, canceled or moved since: this renewal is not happening
    return _render(
        "upcoming_charge",
        _(
            "%(amount)s on %(date)s for %(fund)s",
            amount=format_money(pledge.amount, pledge.currency),
            date=format_date(charge_on.date(), "long"),
            fund=current_app.config["FUND_NAME"],
        ),
        unsubscribe_from=(supporter, "reminders"),
        pledge=pledge,
        charge_on=charge_on,
        member_url=url_for("member.home", _external=True),
    )


def _payment_failed(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    problem = db.session.scalar(
        select(PaymentProblem).where(PaymentProblem.invoice_id == row.context["invoice_id"])
    )
    if problem is None or supporter is None or problem.resolved_at is not None:
        return None  # paid in the meantime: the reminders stop at once
    if problem.pledge.status != "past_due":
        return None
    return _render(
        "payment_failed",
        _("Your payment to %(fund)s did not go through", fund=current_app.config["FUND_NAME"]),
        problem=problem,
        day=row.context["day"],
        sign_in_url=_sign_in_url(supporter),
    )


def _pledge_ended(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    pledge = db.session.get(Pledge, row.context["pledge_id"])
    if pledge is None or supporter is None or pledge.status != "canceled":
        return None
    return _render(
        "pledge_ended",
        _("Your pledge to %(fund)s has ended", fund=current_app.config["FUND_NAME"]),
        pledge=pledge,
        sign_in_url=_sign_in_url(supporter),
    )


def _digest(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    if supporter is None or not supporter.wants_digest:
        return None
    month = date.fromisoformat(row.context["month"] + "-01")
    told = digest.for_supporter(supporter, month, current_app.config["FUND_CURRENCY"])
    if told is None:
        return None
    month_name = _month_name(month, str(get_locale()))
    return _render(
        "digest",
        _("What your money did in %(month)s", month=month_name),
        unsubscribe_from=(supporter, "digest"),
        digest=told,
        month_name=month_name,
        member_url=url_for("member.home", _external=True),
    )


@lru_cache(maxsize=256)
def _month_name(month: date, locale: str) -> str:
    """ "October 2026", in the reader's language: the same for a whole month's digests."""
    return babel_format_date(month, "MMMM yyyy", locale=locale)


def _card_expiring(row: OutboxEmail, supporter: Supporter | None) -> RenderedEmail | None:
    if supporter is None or supporter.card_exp_year is None:
        return None
    if f"{supporter.card_exp_year}-{supporter.card_exp_month:02d}" != row.context["expires"]:
        return None  # a new card was saved in the meantime
    return _render(
        "card_expiring",
        _("Your card for %(fund)s expires soon", fund=current_app.config["FUND_NAME"]),
        supporter=supporter,
        sign_in_url=_sign_in_url(supporter),
    )


#: kind -> renderer, given the row and the supporter its recipient is (None if nobody).
RENDERERS: dict[str, Callable[[OutboxEmail, Supporter | None], RenderedEmail | None]] = {
    "welcome": _welcome,
    "sign-in": _sign_in,
    "organizer-invite": _organizer_invite,
    "organizer-sign-in": _organizer_sign_in,
    "refund-failed": _refund_failed,
    "case-update": _case_update,
    "pledge-changed": _pledge_changed,
    "action-required": _action_required,
    "gift-thanks": _gift_thanks,
    "account-changed": _account_changed,
    "upcoming-charge": _upcoming_charge,
    "payment-failed": _payment_failed,
    "pledge-ended": _pledge_ended,
    "digest": _digest,
    "card-expiring": _card_expiring,
}


Render = Callable[[OutboxEmail], RenderedEmail | None]


@contextmanager
def rendering(rows: list[OutboxEmail]) -> Iterator[Render]:
    """Render a batch of queued emails in one request context, with the supporters and the
    digests they need looked up together rather than a few queries per email. Each email
    still goes out in its recipient's language, or None when there is nothing to send."""
    base_url = current_app.config["BASE_URL"]
    with current_app.test_request_context("/", base_url=base_url):
        people = supporters.find_many([row.recipient for row in rows if row.recipient])
        _prefetch_digests(rows, people)
        default_locale = current_app.config["BABEL_DEFAULT_LOCALE"]

        def render_one(row: OutboxEmail) -> RenderedEmail | None:
            if row.recipient is None:
                return None
            supporter = people.get(row.recipient)
            with force_locale(supporter.locale if supporter else default_locale):
                return RENDERERS[row.kind](row, supporter)

        try:
            yield render_one
        finally:
            g.pop("digests", None)


def _prefetch_digests(rows: list[OutboxEmail], people: dict[str, Supporter]) -> None:
    by_month: dict[str, list[int]] = {}
    for row in rows:
        if row.kind == "digest" and row.recipient in people:
            by_month.setdefault(row.context["month"], []).append(people[row.recipient].id)
    currency = current_app.config["FUND_CURRENCY"]
    for month, supporter_ids in by_month.items():
        digest.prefetch(supporter_ids, date.fromisoformat(month + "-01"), currency)
