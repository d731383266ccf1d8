"""Where a supporter's money went, read from the ledger: to the cent, and only for them.

A supporter's payments always add up: funded cases + still in the fund + fees + refunds.
"""

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import load_only

from pledges.extensions import db
from pledges.models import Allocation, Case, CaseUpdate, Contribution, Disbursement, Supporter

#: What the member page shows of a case it lists: not its story, which may be pages long.
_CASE_AS_LISTED = load_only(Case.slug, Case.title, Case.status)

#: Below this many supporters, a case shows "fewer than" instead of a count that could single
#: someone out.
SMALL_GROUP = 3


@dataclass
class CaseShare:
    case: Case
    amount: int
    latest_update: CaseUpdate | None


@dataclass
class Earmark:
    """Money a supporter earmarked for one case: what it has paid out, and what waits for it."""

    case: Case
    paid_out: int
    waiting: int


@dataclass
class Attribution:
    currency: str
    #: What reached the fund in its currency: what was paid, unless `converted` from another.
    paid: int = 0
    converted: bool = False
    fees: int = 0
    refunds: int = 0
    in_fund: int = 0
    cases: list[CaseShare] = field(default_factory=list)
    earmarks: list[Earmark] = field(default_factory=list)

    @property
    def funded(self) -> int:
        return sum(share.amount for share in self.cases)

    def segments(self) -> list["Segment"]:
        """The split for the bar, in percent of what was paid, leaving out what is zero."""
        parts = [("funded", self.funded), ("in-fund", self.in_fund), ("fees", self.fees)]
        parts.append(("refunds", self.refunds))
        segments, start = [], 0
        for kind, amount in parts:
            if amount and self.paid:
                segments.append(
                    Segment(kind, amount, 100 * start / self.paid, 100 * amount / self.paid)
                )
                start += amount
        return segments


@dataclass(frozen=True)
class Segment:
    kind: str
    amount: int
    #: Where the segment starts and how wide it is, in percent of the bar.
    offset: float
    width: float


def for_supporter(supporter: Supporter) -> list[Attribution]:
    """One attribution per currency the supporter paid in (almost always one).

    Sums come from the supporter's contributions, which their page lists anyway; the ledger
    adds one query for the cases, one for their latest outcomes, and at most one for cases
    earmarked but not yet paid out to: a constant number, whatever the history's length.
    """
    by_currency: dict[str, Attribution] = {}
    earmarked: dict[tuple[str, int], int] = {}
    for contribution in supporter.contributions:
        money = by_currency.setdefault(contribution.currency, Attribution(contribution.currency))
        money.paid += contribution.gross
        money.converted = money.converted or contribution.converted
        money.fees += contribution.fee_borne
        money.refunds += contribution.refunded + contribution.disputed
        money.in_fund += contribution.available
        if contribution.earmarked_case_id is not None:
            key = (contribution.currency, contribution.earmarked_case_id)
            earmarked[key] = earmarked.get(key, 0) + contribution.available
    shares = db.session.execute(
        select(
            Case,
            Disbursement.currency,
            Contribution.earmarked_case_id,
            func.sum(Allocation.amount),
        )
        .join(Disbursement, Disbursement.case_id == Case.id)
        .join(Allocation, Allocation.disbursement_id == Disbursement.id)
        .join(Contribution, Contribution.id == Allocation.contribution_id)
        .where(Contribution.supporter_id == supporter.id)
        .group_by(Case.id, Disbursement.currency, Contribution.earmarked_case_id)
        .options(_CASE_AS_LISTED)
    ).all()
    cases = {case.id: case for case, *_ in shares}
    wanted = {case_id for _, case_id in earmarked} | {
        pledge.case_id for pledge in supporter.pledges if pledge.case_id is not None
    }
    cases.update({case.id: case for case in _cases(sorted(wanted - set(cases)))})
    latest = _latest_updates(sorted({case.id for case, *_ in shares}))
    funded: dict[tuple[str, int], int] = {}
    paid_out: dict[tuple[str, int], int] = {}
    for case, currency, earmark, amount in shares:
        funded[currency, case.id] = funded.get((currency, case.id), 0) + amount
        by_currency[currency].in_fund -= amount
        if earmark is not None:
            paid_out[currency, earmark] = paid_out.get((currency, earmark), 0) + amount
    for (currency, case_id), amount in sorted(funded.items(), key=lambda item: -item[1]):
        case = cases[case_id]
        by_currency[currency].cases.append(CaseShare(case, amount, latest.get(case_id)))
    for (currency, case_id), available in earmarked.items():
        given = paid_out.get((currency, case_id), 0)
        by_currency[currency].earmarks.append(Earmark(cases[case_id], given, available - given))
    return list(by_currency.values())


def _latest_updates(case_ids: list[int]) -> dict[int, CaseUpdate]:
    if not case_ids:
        return {}
    newest = (
        select(CaseUpdate.case_id, func.max(CaseUpdate.published_at).label("at"))
        .where(CaseUpdate.case_id.in_(case_ids))
        .group_by(CaseUpdate.case_id)
        .subquery()
    )
    updates = db.session.scalars(
        select(CaseUpdate)
        .join(
            newest,
            (CaseUpdate.case_id == newest.c.case_id) & (CaseUpdate.published_at == newest.c.at),
        )
        .options(load_only(CaseUpdate.case_id, CaseUpdate.title, CaseUpdate.published_at))
    )
    return {update.case_id: update for update in updates}


def _cases(case_ids: list[int]) -> list[Case]:
    if not case_ids:
        return []
    return list(
        db.session.scalars(select(Case).where(Case.id.in_(case_ids)).options(_CASE_AS_LISTED))
    )


@dataclass
class CaseFunding:
    """What the public may know of a case's money: aggregates only. Kept a few seconds for
    every visitor (`public_cache`), so it holds who had chosen a name, not the names: see
    `public_names`."""

    paid_out: int
    supporters: int
    named_supporter_ids: list[int]

    @property
    def few_supporters(self) -> bool:
        return 0 < self.supporters < SMALL_GROUP


def for_case(case: Case) -> CaseFunding:
    paid_out = db.session.scalar(
        select(func.coalesce(func.sum(Disbursement.amount), 0)).where(
            Disbursement.case_id == case.id
        )
    )
    funders = (
        select(Contribution.supporter_id)
        .join(Allocation, Allocation.contribution_id == Contribution.id)
        .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        .where(Disbursement.case_id == case.id)
        .distinct()
        .subquery()
    )
    count = db.session.scalar(select(func.count()).select_from(funders))
    named = db.session.scalars(
        select(Supporter.id).where(
            Supporter.id.in_(select(funders.c.supporter_id)), Supporter.public_name.is_not(None)
        )
    )
    return CaseFunding(paid_out=paid_out, supporters=count, named_supporter_ids=sorted(named))


def public_names(funding: CaseFunding) -> list[str]:
    """The names of a case's funders who show one now: a name taken back (or an account
    deleted) is gone at once, however long the figures are kept."""
    if not funding.named_supporter_ids:
        return []
    return sorted(
        db.session.scalars(
            select(Supporter.public_name).where(
                Supporter.id.in_(funding.named_supporter_ids), Supporter.public_name.is_not(None)
            )
        )
    )
