"""Invented from start to finish: the kinds of cases such funds take on, no real person."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from pledges.extensions import db
from pledges.i18n import default_locale
from pledges.models import (
    Case,
    CaseStatus,
    CaseUpdate,
    Disbursement,
    Organizer,
    OrganizerRole,
    Pledge,
    PledgeStatus,
)
from pledges.models.types import utcnow
from pledges.payments.demo_gateway import DemoGateway, settlement
from pledges.services import (
    ledger,
    organizers,
    payment_problems,
    pledges,
    reminders,
    supporters,
)
from pledges.services.rhythm import add_months

CASES = [
    {
        "slug": "medication-in-exile",
        "title": _l("Medication for a journalist in exile"),
        "summary": _l(
            "Monthly medicine for a reporter who had to leave the country after her "
            "investigation into a far-right network."
        ),
        "story": _l(
            "R. wrote about who funds the local far-right scene. After her address was "
            "published online she left the country. She lives with a chronic illness, and her "
            "medication costs more than her freelance income.\n\nThe fund pays her pharmacy "
            "directly, every month, for as long as she needs it."
        ),
        "goal": 180_00,
        "pseudonym": _l("R., a journalist in exile"),
    },
    {
        "slug": "legal-defence-book-fair",
        "title": _l("Legal defence after the attack at the book fair"),
        "summary": _l(
            "Lawyers' fees for two volunteers who were attacked at a book stall and are "
            "now being sued by their attackers."
        ),
        "story": _l(
            "Two volunteers ran a stall for an independent publisher when a group "
            "attacked it. The attackers have since filed a counter-complaint.\n\nThe fund covers "
            "the lawyers' fees for both trials."
        ),
        "goal": 4_500_00,
        "pseudonym": _l("two volunteers of a publishing collective"),
    },
    {
        "slug": "protective-gear-medics",
        "title": _l("Protective gear for volunteer medics"),
        "summary": _l(
            "Helmets, vests and first-aid kits for a team of volunteer medics working "
            "near the front line."
        ),
        "story": _l(
            "A team of eight volunteer medics evacuates civilians from towns under "
            "shelling. Their helmets and vests are shared between shifts.\n\nThe fund buys a set "
            "for each of them."
        ),
        "goal": 6_400_00,
        "pseudonym": None,
    },
]

#: (case slug, amount in minor units, days ago, note)
DISBURSEMENTS = [
    ("medication-in-exile", 80_00, 40, _l("Pharmacy invoice, September and October")),
    ("legal-defence-book-fair", 40_00, 12, _l("Court fee for the first hearing")),
]

#: (case slug, title, body, days ago)
UPDATES = [
    (
        "medication-in-exile",
        _l("Two months of medicine delivered"),
        _l(
            "The pharmacy confirmed the delivery. R. writes: *thank you, all of you — it means "
            "I can keep working.*"
        ),
        38,
    ),
]

#: (email, monthly amount in minor units, earmarked case slug, months paid)
SUPPORTERS = [
    ("supporter@example.org", 15_00, None, 4),
    ("ada.demo@example.org", 10_00, "medication-in-exile", 6),
    ("ben.demo@example.org", 5_00, None, 3),
    ("cleo.demo@example.org", 25_00, "protective-gear-medics", 2),
    ("dan.demo@example.org", 8_00, None, 5),
]

#: Demo supporters who read the fund in another language than its own: their emails in /dev/mail
#: show the catalogs at work.
LOCALES = {
    "ada.demo@example.org": "de",
    "ben.demo@example.org": "uk",
    "cleo.demo@example.org": "ru",
}

#: A demo supporter who pays in another currency, when the fund takes it (bin/dev's does).
CURRENCIES = {"ben.demo@example.org": "USD"}

#: (email, monthly amount, months paid, what went wrong with the last renewal, days ago): so
#: the demo's mailbox shows what a fund sends when a payment does not go through. The one
#: that failed long ago is ended by demo billing, like Stripe after its retries.
TROUBLED = [
    ("erin.demo@example.org", 12_00, 3, "failed", 1),
    ("fay.demo@example.org", 20_00, 2, "action_required", 0),
    ("gus.demo@example.org", 6_00, 4, "failed", 9),
]

#: The demo's admin. In development with demo payments its current code is shown on the sign-in
#: page, so the demo needs no phone; anywhere else it is an ordinary account.
ORGANIZER_EMAIL = "organizer@example.org"
ORGANIZER_NAME = _l("Demo organizer")


@dataclass
class DemoReport:
    organizers_created: int = 0
    cases_created: int = 0
    supporters_created: int = 0
    contributions_created: int = 0
    disbursements_created: int = 0


def load(now: datetime | None = None) -> DemoReport:
    """Add whatever of the demo data is missing; running it again changes nothing.

    The fund's texts are written in its own language (FUND_LOCALE), as its organizers would.
    """
    with force_locale(default_locale()):
        return _load(now)


def _load(now: datetime | None) -> DemoReport:
    now = now or utcnow()
    currency = current_app.config["FUND_CURRENCY"]
    report = DemoReport()
    cases = {}
    for spec in CASES:
        case = db.session.scalar(select(Case).where(Case.slug == spec["slug"]))
        if case is None:
            case = Case(
                slug=spec["slug"],
                title=str(spec["title"]),
                summary=str(spec["summary"]),
                story=str(spec["story"]),
                goal=spec["goal"],
                currency=currency,
                status=CaseStatus.OPEN,
                beneficiary_pseudonym=spec["pseudonym"] and str(spec["pseudonym"]),
            )
            db.session.add(case)
            report.cases_created += 1
        cases[spec["slug"]] = case
    for email, amount, slug, months in SUPPORTERS:
        if supporters.find_by_email(email) is None:
            _paying_supporter(email, amount, cases[slug] if slug else None, months, now, report)
    for email, amount, months, trouble, days_ago in TROUBLED:
        if supporters.find_by_email(email) is None:
            pledge = _paying_supporter(email, amount, None, months, now, report)
            db.session.flush()
            DemoGateway(current_app.config["SECRET_KEY"]).fail_charge(
                pledge, now - timedelta(days=days_ago), action=trouble == "action_required"
            )
    db.session.flush()
    for slug, title, body, days_ago in UPDATES:
        if not cases[slug].updates:
            db.session.add(
                CaseUpdate(
                    case=cases[slug],
                    title=str(title),
                    body=str(body),
                    published_at=now - timedelta(days=days_ago),
                )
            )
    for slug, amount, days_ago, note in DISBURSEMENTS:
        case = cases[slug]
        if db.session.scalar(select(Disbursement.id).where(Disbursement.case_id == case.id)):
            continue
        ledger.record_disbursement(case, amount, (now - timedelta(days=days_ago)).date(), str(note))
        report.disbursements_created += 1
    if organizers.find_by_email(ORGANIZER_EMAIL) is None:
        db.session.add(
            Organizer(
                email_index=organizers.email_index(ORGANIZER_EMAIL),
                email=ORGANIZER_EMAIL,
                name=str(ORGANIZER_NAME),
                role=OrganizerRole.ADMIN,
                totp_secret=pyotp.random_base32(),
                totp_confirmed_at=now,
            )
        )
        report.organizers_created += 1
    db.session.flush()
    _fill_the_mailbox(now)
    return report


def _paying_supporter(
    email: str, amount: int, case: Case | None, months: int, now: datetime, report: DemoReport
) -> Pledge:
    supporter = supporters.find_or_create(email, locale=LOCALES.get(email, default_locale()))
    report.supporters_created += 1
    started = now - timedelta(days=30 * months - 2)
    currency = CURRENCIES.get(email, "")
    if currency not in current_app.config["PLEDGE_CURRENCIES"]:
        currency = current_app.config["FUND_CURRENCY"]
    pledge = Pledge(
        supporter=supporter,
        amount=amount,
        currency=currency,
        provider="demo",
        provider_subscription_id=f"demo_sub_seed_{supporter.email_index[:12]}",
        status=PledgeStatus.ACTIVE,
        case=case,
        created_at=started,
        activated_at=started,
        charge_day=started.day,
    )
    db.session.add(pledge)
    for month in range(months):
        pledges.record_payment(
            pledge,
            payment_id=f"demo_in_seed_{supporter.email_index[:12]}_{month}",
            **settlement(amount, pledge.currency),
            paid_at=add_months(started, month),
        )
        report.contributions_created += 1
    pledge.next_charge_at = add_months(started, months)
    return pledge


def _fill_the_mailbox(now: datetime) -> None:
    """What the reminders look like, without waiting for their day: last month's digest for
    everyone who gave, and a card that expires next month. The keys are the real ones, so
    nothing comes twice when their day does come."""
    reminders.queue_digests(reminders.previous_month(now.date()))
    demo = supporters.find_by_email(SUPPORTERS[0][0])
    following = reminders.next_month(now.date())
    if demo is not None and demo.card_exp_year is None:
        payment_problems.remember_card(
            demo, brand="visa", last4="4242", month=following.month, year=following.year
        )
