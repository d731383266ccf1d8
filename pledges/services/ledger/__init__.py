"""The attribution ledger: which contributions paid for which disbursement, to the cent.

A disbursement spends, in ledger order (date paid, then id), from the contributions paid on or
before its date: first those earmarked for its case, then the general pool, oldest first, each
giving at most what it has left. What they cannot cover is funded from other income.

Every change keeps one promise: the rows are exactly those a full rebuild would write. Recording
the newest disbursement spends directly; anything that could change an earlier result (a
back-dated disbursement, a refund of money already spent, a payment recorded late) rebuilds the
ledger from the first disbursement it touches. A mistaken disbursement is never deleted: a
correcting entry (the same amount, negative) takes both out of the ledger, which is rebuilt.
"""

from pledges.services.ledger.checking import check
from pledges.services.ledger.common import AVAILABLE, cutoff, given, lock
from pledges.services.ledger.pools import remaining
from pledges.services.ledger.rebuilding import RebuildReport, rebuild
from pledges.services.ledger.recording import (
    place_late_contribution,
    record_disbursement,
    reverse_disbursement,
    take_back,
)

__all__ = [
    "AVAILABLE",
    "RebuildReport",
    "check",
    "cutoff",
    "given",
    "lock",
    "place_late_contribution",
    "rebuild",
    "record_disbursement",
    "remaining",
    "reverse_disbursement",
    "take_back",
]
