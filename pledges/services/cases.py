"""Organizers' side of cases: writing them, publishing them, and posting what happened."""

import re
import unicodedata
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import (
    Allocation,
    Case,
    CaseStatus,
    CaseUpdate,
    Contribution,
    Disbursement,
    Organizer,
    Pledge,
    PledgeStatus,
    Supporter,
)
from pledges.models.types import utcnow
from pledges.services import audit, mail_outbox

#: Where a case may go from each status. A published case never returns to draft: people may
#: have pledged to it, and its page may be linked from elsewhere.
TRANSITIONS: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    CaseStatus.DRAFT: (CaseStatus.OPEN,),
    CaseStatus.OPEN: (CaseStatus.FUNDED, CaseStatus.CLOSED),
    CaseStatus.FUNDED: (CaseStatus.OPEN, CaseStatus.CLOSED),
    CaseStatus.CLOSED: (CaseStatus.OPEN,),
}


@dataclass
class CaseText:
    title: str
    summary: str
    story: str
    goal: int | None
    pseudonym: str | None


def all_cases() -> list[Case]:
    return list(db.session.scalars(select(Case).order_by(Case.id.desc())))


def payable_cases() -> list[Case]:
    """Cases money may be paid to: every published one."""
    return list(
        db.session.scalars(select(Case).where(Case.status != CaseStatus.DRAFT).order_by(Case.title))
    )


def slug_for(title: str) -> str:
    """A readable, unique address from the title: Latin letters stay, others are dropped."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80] or "case"
    taken = set(db.session.scalars(select(Case.slug).where(Case.slug.like(f"{base}%"))))
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


def create(text: CaseText, *, by: Organizer) -> Case:
    case = Case(
        slug=slug_for(text.title),
        currency=current_app.config["FUND_CURRENCY"],
        status=CaseStatus.DRAFT,
    )
    _apply(case, text)
    db.session.add(case)
    db.session.flush()
    audit.record("case.create", case, by=by)
    return case


def edit(case: Case, text: CaseText, *, by: Organizer) -> None:
    if case.status == CaseStatus.DRAFT and text.title != case.title:
        # Until it is published the address follows the title: a name taken out of the title
        # must not stay in the address. Once public, links to it must keep working.
        case.slug = slug_for(text.title)
    _apply(case, text)
    audit.record("case.edit", case, by=by)


def _apply(case: Case, text: CaseText) -> None:
    case.title = text.title
    case.summary = text.summary
    case.story = text.story
    case.goal = text.goal
    case.beneficiary_pseudonym = text.pseudonym


def move(case: Case, status: CaseStatus, *, by: Organizer) -> None:
    if status not in TRANSITIONS[CaseStatus(case.status)]:
        raise ValueError(f"a {case.status} case cannot become {status}")
    before, case.status = case.status, status
    audit.record("case.status", case, f"{before} -> {status}", by=by)


# -- outcome updates ---------------------------------------------------------------------------


def post_update(case: Case, title: str, body: str, *, notify: bool, by: Organizer) -> CaseUpdate:
    update = CaseUpdate(case=case, title=title, body=body, published_at=utcnow())
    db.session.add(update)
    db.session.flush()
    audit.record("update.post", update, f"on case:{case.id}", by=by)
    if notify:
        notify_supporters(update, by=by)
    return update


def edit_update(update: CaseUpdate, title: str, body: str, *, by: Organizer) -> None:
    update.title, update.body = title, body
    audit.record("update.edit", update, by=by)


def notify_supporters(update: CaseUpdate, *, by: Organizer) -> int:
    """Queue one email per supporter whose money funded the case or who earmarked it; never
    twice for one update, however often this is asked."""
    if update.notified_at is not None:
        return 0
    queued = 0
    for supporter in db.session.scalars(
        select(Supporter)
        .where(Supporter.id.in_(supporter_ids(update.case)), *WANTS_UPDATES)
        .order_by(Supporter.id)
    ):
        row = mail_outbox.enqueue(
            "case-update",
            recipient=supporter.email,
            dedupe_key=f"case-update:{update.id}:{supporter.id}",
            context={"update_id": update.id},
        )
        queued += row is not None
    update.notified_at = utcnow()
    audit.record("update.notify", update, f"{queued} emails queued", by=by)
    return queued


def supporter_ids(case: Case):  # noqa: ANN201
    """SQL: the supporters a case's news is for — whose contributions paid for it, who
    earmarked money for it, or whose live pledge is earmarked for it."""
    funded = (
        select(Contribution.supporter_id)
        .join(Allocation, Allocation.contribution_id == Contribution.id)
        .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        .where(Disbursement.case_id == case.id)
    )
    earmarked = select(Contribution.supporter_id).where(Contribution.earmarked_case_id == case.id)
    pledged = select(Pledge.supporter_id).where(
        Pledge.case_id == case.id,
        Pledge.status.in_([PledgeStatus.ACTIVE, PledgeStatus.PAST_DUE, PledgeStatus.PAUSED]),
    )
    return funded.union(earmarked, pledged)


#: Who may be emailed a case's news: those who kept the choice on, and have an account.
WANTS_UPDATES = (Supporter.wants_updates, Supporter.erased_at.is_(None))


def earmarked_pledges(*only: Case) -> dict[int, int]:
    """How many pledges still pay into each case (or only into these), by case id: closing
    one does not move them (their supporters see it closed on their page, and may choose
    again)."""
    live = (PledgeStatus.ACTIVE, PledgeStatus.PAST_DUE, PledgeStatus.PAUSED)
    query = select(Pledge.case_id, func.count()).where(
        Pledge.case_id.is_not(None), Pledge.status.in_(live)
    )
    if only:
        query = query.where(Pledge.case_id.in_([case.id for case in only]))
    return dict(db.session.execute(query.group_by(Pledge.case_id)).all())


def supporter_count(case: Case) -> int:
    """How many would be emailed an update on the case."""
    return db.session.scalar(
        select(func.count()).where(Supporter.id.in_(supporter_ids(case)), *WANTS_UPDATES)
    )


def reason_for(supporter: Supporter, case: Case) -> str:
    """Why a supporter hears about a case: 'funded' if their money paid for it, else
    'earmarked'."""
    paid = db.session.scalar(
        select(Allocation.amount)
        .join(Contribution, Contribution.id == Allocation.contribution_id)
        .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        .where(Contribution.supporter_id == supporter.id, Disbursement.case_id == case.id)
        .limit(1)
    )
    return "funded" if paid is not None else "earmarked"
