"""The monthly impact digest: what one supporter gave last month, where it went (from the
ledger, to the cent), what happened on the cases their money funded, and the fund's totals."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flask import g
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import (
    Allocation,
    Case,
    CaseUpdate,
    Contribution,
    Disbursement,
    Supporter,
)
from pledges.services import fund
from pledges.services.ledger import AVAILABLE

#: What a payment gave for good: not what was refunded or taken back by a dispute since.
KEPT = Contribution.gross - Contribution.refunded - Contribution.disputed


@dataclass
class Digest:
    month: date
    currency: str
    #: What they gave that month and kept giving (less refunds and disputes).
    given: int
    #: (case, amount of last month's money it received)
    cases: list[tuple[Case, int]] = field(default_factory=list)
    waiting: int = 0
    #: The processor's fees on it: with the cases and what waits, all of what they gave.
    fees: int = 0
    updates: list[CaseUpdate] = field(default_factory=list)
    fund_monthly: int = 0
    fund_paid_out: int = 0


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC)
    return start, following


def for_supporter(supporter: Supporter, month: date, currency: str) -> Digest | None:
    """None when they gave nothing that month: there is nothing to tell. Taken from what
    `prefetch` worked out for the mail worker's batch, when it did."""
    prefetched = g.get("digests", {}).get((month, currency), {})
    if supporter.id in prefetched:
        return prefetched[supporter.id]
    return for_supporters([supporter.id], month, currency).get(supporter.id)


def prefetch(supporter_ids: list[int], month: date, currency: str) -> None:
    """Work out a batch of digests in a few queries instead of a few per email."""
    found = for_supporters(supporter_ids, month, currency)
    cache = g.setdefault("digests", {}).setdefault((month, currency), {})
    cache.update({supporter_id: found.get(supporter_id) for supporter_id in supporter_ids})


def for_supporters(supporter_ids: list[int], month: date, currency: str) -> dict[int, Digest]:
    """The digests of those who gave that month, by supporter id: not of those whose every
    payment of the month went back to them."""
    start, end = month_bounds(month)
    in_month = (
        Contribution.supporter_id.in_(supporter_ids),
        Contribution.currency == currency,
        Contribution.paid_at >= start,
        Contribution.paid_at < end,
    )
    fund_monthly, fund_paid_out = fund_totals(month, currency)
    digests: dict[int, Digest] = {}
    available: dict[int, int] = {}
    for supporter_id, given, usable in db.session.execute(
        select(
            Contribution.supporter_id,
            func.coalesce(func.sum(KEPT), 0),
            func.coalesce(func.sum(AVAILABLE), 0),
        )
        .where(*in_month)
        .group_by(Contribution.supporter_id)
    ):
        if given:
            digests[supporter_id] = Digest(month, currency, given, fund_monthly=fund_monthly,
                                           fund_paid_out=fund_paid_out)  # fmt: skip
            available[supporter_id] = usable
    if not digests:
        return {}
    share = func.sum(Allocation.amount)
    for supporter_id, case, amount in db.session.execute(
        select(Contribution.supporter_id, Case, share)
        .join(Disbursement, Disbursement.case_id == Case.id)
        .join(Allocation, Allocation.disbursement_id == Disbursement.id)
        .join(Contribution, Contribution.id == Allocation.contribution_id)
        .where(*in_month)
        .group_by(Contribution.supporter_id, Case.id)
        .order_by(Contribution.supporter_id, share.desc(), Case.id)
    ):
        digests[supporter_id].cases.append((case, amount))
    funded_ever = db.session.execute(
        select(Contribution.supporter_id, Disbursement.case_id)
        .join(Allocation, Allocation.contribution_id == Contribution.id)
        .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        .where(Contribution.supporter_id.in_(list(digests)))
        .distinct()
    ).all()
    updates: dict[int, list[CaseUpdate]] = {}
    for update in db.session.scalars(
        select(CaseUpdate)
        .where(
            CaseUpdate.case_id.in_({case_id for _, case_id in funded_ever}),
            CaseUpdate.published_at >= start,
            CaseUpdate.published_at < end,
        )
        .order_by(CaseUpdate.published_at, CaseUpdate.id)
    ):
        updates.setdefault(update.case_id, []).append(update)
    for supporter_id, case_id in funded_ever:
        digests[supporter_id].updates.extend(updates.get(case_id, []))
    for supporter_id, told in digests.items():
        told.updates.sort(key=lambda update: (update.published_at, update.id))
        spent = sum(amount for _, amount in told.cases)
        told.waiting = max(available[supporter_id] - spent, 0)
        told.fees = told.given - available[supporter_id]
    return digests


def fund_totals(month: date, currency: str) -> tuple[int, int]:
    """What active pledges bring each month, and what was paid out that month: the same in
    every digest, so worked out once per delivery run (kept on `g`, the app context)."""
    cache = g.setdefault("digest_fund_totals", {})
    if (month, currency) not in cache:
        start, end = month_bounds(month)
        cache[month, currency] = (
            fund.monthly_pledged(currency),
            db.session.scalar(
                select(func.coalesce(func.sum(Disbursement.amount), 0)).where(
                    Disbursement.currency == currency,
                    Disbursement.paid_on >= start.date(),
                    Disbursement.paid_on < end.date(),
                )
            ),
        )
    return cache[month, currency]
