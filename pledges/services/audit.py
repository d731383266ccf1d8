"""The audit log: who did what, written in the same transaction as the action itself, so an
action and its entry are both kept or both lost."""

from flask import g, has_app_context
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import AuditEntry, Organizer

PAGE = 100


def record(action: str, subject: object = None, detail: str = "", *, by: Organizer | None) -> None:
    """Note an action. `subject` is a model (named by table and id) or a string; detail is
    short and never holds an email address or a supporter's name."""
    db.session.add(
        AuditEntry(
            organizer_id=by.id if by else None,
            # The API names its token for the request (pledges.web.api.auth); pages have none.
            api_token_id=g.get("api_token_id") if has_app_context() else None,
            action=action,
            subject=_name(subject),
            detail=detail[:500],
        )
    )


def _name(subject: object) -> str:
    if subject is None:
        return ""
    if isinstance(subject, str):
        return subject
    return f"{subject.__tablename__.removesuffix('s')}:{subject.id}"  # type: ignore[attr-defined]


def page(before: int | None = None) -> list[AuditEntry]:
    """The newest entries first, a page at a time."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(db.session.scalars(query))
