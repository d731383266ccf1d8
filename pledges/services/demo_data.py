"""Invented from start to finish: the kinds of cases such funds take on, no real person."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from flask import current_app
from sqlalchemy import select

from pledges.extensions import db
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
from pledges.payments.demo_gateway import add_months, demo_fee
from pledges.services import ledger, organizers, pledges, supporters

CASES = [
    {
        "slug": "medication-in-exile",
        "title": "Medication for a journalist in exile",
        "summary": "Monthly medicine for a reporter who had to leave the country after her "
        "investigation into a far-right network.",
        "story": "R. wrote about who funds the local far-right scene. After her address was "
        "published online she left the country. She lives with a chronic illness, and her "
        "medication costs more than her freelance income.\n\nThe fund pays her pharmacy "
        "directly, every month, for as long as she needs it.",
        "goal": 180_00,
        "pseudonym": "R., a journalist in exile",
    },
    {
        "slug": "legal-defence-book-fair",
        "title": "Legal defence after the attack at the book fair",
        "summary": "Lawyers' fees for two volunteers who were attacked at a book stall and are "
        "now being sued by their attackers.",
        "story": "Two volunteers ran a stall for an independent publisher when a group "
        "attacked it. The attackers have since filed a counter-complaint.\n\nThe fund covers "
        "the lawyers' fees for both trials.",
        "goal": 4_500_00,
        "pseudonym": "two volunteers of a publishing collective",
    },
    {
        "slug": "protective-gear-medics",
        "title": "Protective gear for volunteer medics",
        "summary": "Helmets, vests and first-aid kits for a team of volunteer medics working "
        "near the front line.",
        "story": "A team of eight volunteer medics evacuates civilians from towns under "
        "shelling. Their helmets and vests are shared between shifts.\n\nThe fund buys a set "
        "for each of them.",
        "goal": 6_400_00,
        "pseudonym": None,
    },
]

#: (case slug, amount in minor units, days ago, note)
DISBURSEMENTS = [
    ("medication-in-exile", 80_00, 40, "Pharmacy invoice, September and October"),
    ("legal-defence-book-fair", 40_00, 12, "Court fee for the first hearing"),
]

#: (case slug, title, body, days ago)
UPDATES = [
    (
        "medication-in-exile",
        "Two months of medicine delivered",
        "The pharmacy confirmed the delivery. R. writes: *thank you, all of you — it means I "
        "can keep working.*",
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


#: The demo's admin. In development with demo payments its current code is shown on the sign-in
#: page, so the demo needs no phone; anywhere else it is an ordinary account.
ORGANIZER_EMAIL = "organizer@example.org"
ORGANIZER_NAME = "Demo organizer"


@dataclass
class DemoReport:
    organizers_created: int = 0
    cases_created: int = 0
    supporters_created: int = 0
    contributions_created: int = 0
    disbursements_created: int = 0


def load(now: datetime | None = None) -> DemoReport:
    """Add whatever of the demo data is missing; running it again changes nothing."""
    now = now or utcnow()
    currency = current_app.config["FUND_CURRENCY"]
    report = DemoReport()
    cases = {}
    for spec in CASES:
        case = db.session.scalar(select(Case).where(Case.slug == spec["slug"]))
        if case is None:
            case = Case(
                slug=spec["slug"],
                title=spec["title"],
                summary=spec["summary"],
                story=spec["story"],
                goal=spec["goal"],
                currency=currency,
                status=CaseStatus.OPEN,
                beneficiary_pseudonym=spec["pseudonym"],
            )
            db.session.add(case)
            report.cases_created += 1
        cases[spec["slug"]] = case
    for email, amount, slug, months in SUPPORTERS:
        if supporters.find_by_email(email) is not None:
            continue
        supporter = supporters.find_or_create(email)
        report.supporters_created += 1
        started = now - timedelta(days=30 * months - 2)
        pledge = Pledge(
            supporter=supporter,
            amount=amount,
            currency=currency,
            provider="demo",
            provider_subscription_id=f"demo_sub_seed_{supporter.email_index[:12]}",
            status=PledgeStatus.ACTIVE,
            case=cases[slug] if slug else None,
            created_at=started,
            activated_at=started,
        )
        db.session.add(pledge)
        for month in range(months):
            pledges.record_payment(
                pledge,
                payment_id=f"demo_in_seed_{supporter.email_index[:12]}_{month}",
                gross=amount,
                fee=demo_fee(amount),
                paid_at=add_months(started, month),
            )
            report.contributions_created += 1
        pledge.next_charge_at = add_months(started, months)
    db.session.flush()
    for slug, title, body, days_ago in UPDATES:
        if not cases[slug].updates:
            db.session.add(
                CaseUpdate(
                    case=cases[slug],
                    title=title,
                    body=body,
                    published_at=now - timedelta(days=days_ago),
                )
            )
    for slug, amount, days_ago, note in DISBURSEMENTS:
        case = cases[slug]
        if db.session.scalar(select(Disbursement.id).where(Disbursement.case_id == case.id)):
            continue
        ledger.record_disbursement(case, amount, (now - timedelta(days=days_ago)).date(), note)
        report.disbursements_created += 1
    if organizers.find_by_email(ORGANIZER_EMAIL) is None:
        db.session.add(
            Organizer(
                email_index=organizers.email_index(ORGANIZER_EMAIL),
                email=ORGANIZER_EMAIL,
                name=ORGANIZER_NAME,
                role=OrganizerRole.ADMIN,
                totp_secret=pyotp.random_base32(),
                totp_confirmed_at=now,
            )
        )
        report.organizers_created += 1
    db.session.flush()
    return report
