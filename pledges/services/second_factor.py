"""The organizers' second factor: TOTP codes (RFC 6238) from an authenticator app, and
one-time recovery codes for when the phone is lost."""

import secrets
import unicodedata
from dataclasses import dataclass

import pyotp
from flask import current_app
from markupsafe import Markup
from sqlalchemy import or_, update

from pledges.crypto import token_hash
from pledges.extensions import db
from pledges.models import Organizer, RecoveryCode
from pledges.models.types import utcnow
from pledges.qr import qr_svg

RECOVERY_CODES = 10


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: Markup


def start_enrolment(organizer: Organizer) -> Enrolment:
    """The secret to scan, kept until confirmed; asking again shows the same one."""
    if organizer.totp_confirmed_at is not None:
        raise ValueError("this organizer has a second factor already")
    if organizer.totp_secret is None:
        organizer.totp_secret = pyotp.random_base32()
    uri = pyotp.TOTP(organizer.totp_secret).provisioning_uri(
        name=organizer.name, issuer_name=current_app.config["FUND_NAME"]
    )
    # Drawn here as SVG: a QR service elsewhere would learn the secret.
    return Enrolment(organizer.totp_secret, uri, qr_svg(uri, scale=5))


def confirm_enrolment(organizer: Organizer, code: str) -> list[str] | None:
    """Check the first code from the app; on success return fresh recovery codes, in clear
    for the only time."""
    if organizer.totp_secret is None or not _accept_totp(organizer, code):
        return None
    organizer.totp_confirmed_at = utcnow()
    return new_recovery_codes(organizer)


def new_recovery_codes(organizer: Organizer) -> list[str]:
    """Replace every recovery code the organizer had."""
    db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.organizer_id == organizer.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(
        RecoveryCode(organizer_id=organizer.id, code_hash=_hash(code)) for code in codes
    )
    return codes


def _recovery_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing to confuse on paper
    raw = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _hash(code: str) -> str:
    return token_hash(code.strip().lower().replace(" ", ""))


def _as_typed(code: str) -> str:
    """Without spaces, and with digits of any script as ASCII ones: a phone set to Arabic or
    Persian types "١٢٣٤٥٦" for 123456."""
    return "".join(str(unicodedata.decimal(c, c)) for c in code.strip().replace(" ", ""))


def verify(organizer: Organizer, code: str) -> bool:
    """A current TOTP code not used before, or an unused recovery code (then used up)."""
    if organizer.totp_confirmed_at is None or organizer.totp_secret is None:
        return False
    code = _as_typed(code)
    if code.isascii() and code.isdigit():
        return _accept_totp(organizer, code)
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.organizer_id == organizer.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .returning(RecoveryCode.id)
    ).first()
    return used is not None


def _accept_totp(organizer: Organizer, code: str) -> bool:
    """Accept the code of this 30-second step or the ones either side (clocks drift), but never
    a step at or before the last one accepted: a code seen over a shoulder is spent."""
    code = _as_typed(code)
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return False
    totp = pyotp.TOTP(organizer.totp_secret)
    now = utcnow()
    current_step = totp.timecode(now)
    for offset in (-1, 0, 1):
        step = current_step + offset
        if secrets.compare_digest(totp.generate_otp(step), code):
            # Conditional, so two requests racing with the same code cannot both pass.
            moved = db.session.execute(
                update(Organizer)
                .where(
                    Organizer.id == organizer.id,
                    or_(Organizer.last_totp_step.is_(None), Organizer.last_totp_step < step),
                )
                .values(last_totp_step=step)
                .returning(Organizer.id)
            ).first()
            return moved is not None
    return False


def current_code(organizer: Organizer) -> str:
    """For the demo only: the code the demo organizer's authenticator would show now."""
    return pyotp.TOTP(organizer.totp_secret).now()
