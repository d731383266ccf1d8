"""The models, one module per aggregate; importing this package registers them all."""

from pledges.models.api_token import SCOPES, ApiToken, IdempotentRequest
from pledges.models.audit import AuditEntry
from pledges.models.case import Case, CaseStatus
from pledges.models.case_update import CaseUpdate
from pledges.models.contribution import Contribution
from pledges.models.disbursement import Allocation, Disbursement, LedgerFrontier
from pledges.models.early_take_back import EarlyTakeBack
from pledges.models.login_token import LoginToken
from pledges.models.organizer import Organizer, OrganizerRole, RecoveryCode
from pledges.models.outbox import OutboxEmail, OutboxStatus
from pledges.models.payment_problem import PaymentProblem
from pledges.models.pledge import ALLOWED_TRANSITIONS, EarmarkChange, Pledge, PledgeStatus
from pledges.models.setting import Setting
from pledges.models.stripe_event import StripeEvent
from pledges.models.supporter import Supporter
from pledges.models.supporter_session import SupporterSession

__all__ = [
    "SCOPES",
    "ApiToken",
    "IdempotentRequest",
    "ALLOWED_TRANSITIONS",
    "Allocation",
    "AuditEntry",
    "Case",
    "CaseUpdate",
    "CaseStatus",
    "Contribution",
    "Disbursement",
    "EarlyTakeBack",
    "EarmarkChange",
    "LedgerFrontier",
    "LoginToken",
    "Organizer",
    "OrganizerRole",
    "OutboxEmail",
    "OutboxStatus",
    "PaymentProblem",
    "Pledge",
    "PledgeStatus",
    "RecoveryCode",
    "Setting",
    "StripeEvent",
    "Supporter",
    "SupporterSession",
]
