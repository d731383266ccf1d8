"""What the public may know about the fund: aggregates only, never a list of people."""

from dataclasses import dataclass
from typing import NamedTuple

from flask import current_app
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Case, CaseStatus, Pledge, PledgeStatus
from pledges.services import exchange, public_cache

#: Pledges that bring money next month: active, and not canceled to end with this one.
GIVING_MONTHLY = (Pledge.status == PledgeStatus.ACTIVE, Pledge.ends_at.is_(None))


@dataclass(frozen=True)
class FundSummary:
    name: str
    currency: str
    #: What active pledges bring each month, in minor units of `currency`.
    monthly_total: int
    supporters: int
    open_case_count: int
    #: The first open cases, as many as the caller asked to show.
    open_cases: list[Case]


@dataclass(frozen=True)
class _Figures:
    monthly_total: int
    supporters: int
    open_case_count: int


def summary(shown: int | None = None) -> FundSummary:
    """The fund's figures (kept a few seconds: see `public_cache`) and its first `shown` open
    cases (all of them by default)."""
    currency = current_app.config["FUND_CURRENCY"]
    figures = public_cache.cached(("fund", currency), lambda: _figures(currency))
    return FundSummary(
        name=current_app.config["FUND_NAME"],
        currency=currency,
        monthly_total=figures.monthly_total,
        supporters=figures.supporters,
        open_case_count=figures.open_case_count,
        open_cases=open_cases(limit=shown) if shown != 0 else [],
    )


def _figures(currency: str) -> _Figures:
    supporters = db.session.scalar(
        select(func.count(func.distinct(Pledge.supporter_id))).where(*GIVING_MONTHLY)
    )
    open_case_count = db.session.scalar(
        select(func.count()).select_from(Case).where(Case.status == CaseStatus.OPEN)
    )
    return _Figures(monthly_pledged(currency), supporters, open_case_count)


def monthly_pledged(currency: str) -> int:
    """What the pledges `GIVING_MONTHLY` bring each month, in the ledger's currency (see
    `exchange`)."""
    by_currency = db.session.execute(
        select(Pledge.currency, func.sum(Pledge.amount))
        .where(*GIVING_MONTHLY)
        .group_by(Pledge.currency)
    ).all()
    return exchange.in_ledger_currency(dict(by_currency), currency)


class CaseChoice(NamedTuple):
    id: int
    slug: str
    title: str


def case_choices() -> list[CaseChoice]:
    """The open cases as a select offers them: public, the same for everyone, and kept a few
    seconds (a fund with hundreds of cases would otherwise load them all for every page)."""
    return public_cache.cached(
        "case choices", lambda: [CaseChoice(c.id, c.slug, c.title) for c in open_cases()]
    )


def open_cases(limit: int | None = None) -> list[Case]:
    query = select(Case).where(Case.status == CaseStatus.OPEN).order_by(Case.id).limit(limit)
    return list(db.session.scalars(query))


def public_case(slug: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.slug == slug, Case.status != CaseStatus.DRAFT))
