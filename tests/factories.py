"""Factories for what is not the point of a test. Call them inside an app context; each commits,
like the request or command it stands in for."""

import itertools
from datetime import timedelta

import pyotp

from pledges.extensions import db
from pledges.models import (
    Case,
    CaseStatus,
    Contribution,
    Organizer,
    Pledge,
    PledgeStatus,
    Supporter,
)
from pledges.models.types import utcnow
from pledges.services import organizers, pledges, supporters

_counter = itertools.count(1)


def make_supporter(email: str | None = None, **overrides) -> Supporter:
    supporter = supporters.find_or_create(email or f"supporter{next(_counter)}@example.org")
    for name, value in overrides.items():
        setattr(supporter, name, value)
    db.session.commit()
    return supporter


def make_case(**overrides) -> Case:
    number = next(_counter)
    case = Case(
        slug=overrides.pop("slug", f"case-{number}"),
        title=overrides.pop("title", f"Case number {number}"),
        summary=overrides.pop("summary", "What the fund takes on."),
        story=overrides.pop("story", "The story, in **Markdown**."),
        currency=overrides.pop("currency", "EUR"),
        status=overrides.pop("status", CaseStatus.OPEN),
        **overrides,
    )
    db.session.add(case)
    db.session.commit()
    return case


def make_pledge(supporter: Supporter | None = None, **overrides) -> Pledge:
    pledge = Pledge(
        supporter=supporter or make_supporter(),
        amount=overrides.pop("amount", 10_00),
        currency=overrides.pop("currency", "EUR"),
        provider=overrides.pop("provider", "demo"),
        status=overrides.pop("status", PledgeStatus.ACTIVE),
        **overrides,
    )
    db.session.add(pledge)
    db.session.commit()
    return pledge


def make_contribution(pledge: Pledge, **overrides) -> Contribution:
    contribution = pledges.record_payment(
        pledge,
        payment_id=overrides.pop("provider_payment_id", f"in_test_{next(_counter)}"),
        gross=overrides.pop("gross", pledge.amount),
        fee=overrides.pop("fee", 0),
        paid_at=overrides.pop("paid_at", utcnow() - timedelta(days=1)),
        **overrides,
    )
    db.session.commit()
    return contribution


def make_organizer(
    role: str = "organizer", *, enrolled: bool = True, email: str | None = None
) -> Organizer:
    """An organizer; `enrolled` ones have a TOTP secret confirmed, like after enrolment."""
    address = email or f"organizer{next(_counter)}@example.org"
    organizer = Organizer(
        email_index=organizers.email_index(address),
        email=address,
        name=f"Organizer {next(_counter)}",
        role=role,
        totp_secret=pyotp.random_base32() if enrolled else None,
        totp_confirmed_at=utcnow() if enrolled else None,
    )
    db.session.add(organizer)
    db.session.commit()
    return organizer


def totp_code(organizer: Organizer, steps_ahead: int = 0) -> str:
    """The code the organizer's app shows, `steps_ahead` 30-second steps from now: a code is
    accepted once, so a second sign-in in the same half minute uses the next one."""
    totp = pyotp.TOTP(organizer.totp_secret)
    return totp.at(utcnow() + timedelta(seconds=30 * steps_ahead))
