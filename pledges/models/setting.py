from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pledges.extensions import db


class Setting(db.Model):
    """Small facts the app learns once and keeps, e.g. the Stripe Product all pledges use."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
