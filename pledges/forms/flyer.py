"""The supporter's own words on a flyer: checked, printed once, never stored."""

from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import Length

from pledges.forms import Form

NOTE_LENGTH = 200


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class NoteForm(Form):
    note = TextAreaField(
        _l("Your note (not saved)"),
        filters=[_strip],
        validators=[Length(max=NOTE_LENGTH)],
        render_kw={"maxlength": NOTE_LENGTH, "rows": 2},
    )
