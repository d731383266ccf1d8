"""Bookkeeping exports as CSV: amounts in major units with a plain decimal point, dates in
UTC, supporters by internal id. Only an admin's export names email addresses.

Rows are streamed: a fund with a million contributions must not be held in memory."""

import csv
import io
from collections.abc import Iterable, Iterator

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Allocation, Case, Contribution, Disbursement, Supporter
from pledges.money import to_major

KINDS = ("contributions", "disbursements", "allocations")
BATCH = 5_000


def rows(kind: str, *, with_emails: bool = False) -> Iterator[list[object]]:
    """The header, then one list per record."""
    if kind == "contributions":
        return _contributions(with_emails)
    if kind == "disbursements":
        return _disbursements()
    if kind == "allocations":
        return _allocations()
    raise ValueError(f"unknown export {kind!r}")


def as_csv(records: Iterable[list[object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for number, record in enumerate(records, start=1):
        writer.writerow(_safe(value) for value in record)
        if number % 1_000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _safe(value: object) -> object:
    """A spreadsheet runs a cell that starts with =, +, - or @ as a formula: a note typed by
    anyone must stay text. Numbers (negative corrections included) are left as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _contributions(with_emails: bool) -> Iterator[list[object]]:
    header = [
        "contribution_id", "supporter_id", "pledge_id", "paid_at_utc", "currency", "gross",
        "fee", "net", "refunded", "disputed", "earmarked_case", "provider", "provider_payment_id",
        "paid_amount", "paid_currency", "returned_paid", "dispute_fees",
    ]  # fmt: skip
    query = (
        select(Contribution, Case.slug)
        .outerjoin(Case, Case.id == Contribution.earmarked_case_id)
        .order_by(Contribution.paid_at, Contribution.id)
        .execution_options(yield_per=BATCH)
    )
    if with_emails:
        header.append("supporter_email")
        query = query.add_columns(Supporter.email).join(
            Supporter, Supporter.id == Contribution.supporter_id
        )
    yield header
    for c, slug, *email in db.session.execute(query):
        money = [to_major(value, c.currency) for value in (c.gross, c.fee, c.net)]
        withdrawn = [to_major(value, c.currency) for value in (c.refunded, c.disputed)]
        yield [
            c.id, c.supporter_id, c.pledge_id, c.paid_at.isoformat(), c.currency, *money,
            *withdrawn, slug or "", c.provider, c.provider_payment_id,
            to_major(c.paid_amount, c.paid_currency), c.paid_currency,
            to_major(c.paid_returned, c.paid_currency), to_major(c.dispute_fees, c.currency),
            *email,
        ]  # fmt: skip


def _disbursements() -> Iterator[list[object]]:
    yield [
        "disbursement_id", "case", "paid_on", "currency", "amount", "from_contributions",
        "from_other_income", "in_ledger", "reverses_disbursement_id", "note",
    ]  # fmt: skip
    query = (
        select(Disbursement, Case.slug)
        .join(Case, Case.id == Disbursement.case_id)
        .order_by(Disbursement.paid_on, Disbursement.id)
    )
    for d, slug in db.session.execute(query):
        other = d.other_income if d.in_ledger else 0
        covered = d.amount - other if d.in_ledger else 0
        yield [
            d.id, slug, d.paid_on.isoformat(), d.currency, to_major(d.amount, d.currency),
            to_major(covered, d.currency), to_major(other, d.currency),
            "yes" if d.in_ledger else "no", d.reverses_id or "", d.note,
        ]  # fmt: skip


def _allocations() -> Iterator[list[object]]:
    yield ["disbursement_id", "contribution_id", "currency", "amount"]
    query = (
        select(Allocation.disbursement_id, Allocation.contribution_id, Disbursement.currency,
               Allocation.amount)
        .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        .order_by(Allocation.disbursement_id, Allocation.contribution_id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for disbursement_id, contribution_id, currency, amount in db.session.execute(query):
        yield [disbursement_id, contribution_id, currency, to_major(amount, currency)]
