"""One-click unsubscribe (RFC 8058): a signed link per supporter and kind of email, which
works without signing in and never expires (it sits in old emails)."""

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from pledges.extensions import db
from pledges.models import Supporter

#: The kind of email a link turns off -> the supporter's preference it clears.
KINDS = {"reminders": "wants_reminders", "digest": "wants_digest", "updates": "wants_updates"}


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="pledges-unsubscribe")


def token(supporter: Supporter, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"no unsubscribing from {kind!r}")
    return _serializer().dumps([supporter.id, kind])


def read(raw: str) -> tuple[Supporter, str] | None:
    """The supporter and kind a link names, or None if it is forged or they are gone."""
    try:
        supporter_id, kind = _serializer().loads(raw)
    except (BadSignature, ValueError, TypeError):
        return None
    supporter = db.session.get(Supporter, supporter_id) if isinstance(supporter_id, int) else None
    if supporter is None or supporter.erased_at is not None or kind not in KINDS:
        return None
    return supporter, kind


def apply(supporter: Supporter, kind: str) -> None:
    setattr(supporter, KINDS[kind], False)
