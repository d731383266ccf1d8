"""The organizers' forms. Every one carries a CSRF token; every message goes through Babel."""

import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from pledges.forms import Form, email_field
from pledges.models import SCOPES, Case, OrganizerRole
from pledges.models.types import is_in_the_future, utc_today
from pledges.money import to_major, to_minor

#: The largest single amount an organizer may type: a typo guard, not a policy.
MAX_MINOR = 100_000_000


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def parse_amount(field: StringField, currency: str) -> int:
    """A typed amount in minor units, or a ValidationError that says what to type."""
    try:
        minor = to_minor(field.data or "", currency)
    except ValueError as error:
        raise ValidationError(_l("Enter an amount like 450 or 450.00.")) from error
    if not 0 < minor <= MAX_MINOR:
        raise ValidationError(
            _l("Enter an amount between 0.01 and %(high)s.", high=to_major(MAX_MINOR, currency))
        )
    return minor


class CodeForm(Form):
    code = StringField(
        _l("Code"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the code.")), Length(max=20)],
    )


class CaseForm(Form):
    title = StringField(
        _l("Title"),
        filters=[_strip],
        validators=[DataRequired(_l("Give the case a title.")), Length(max=200)],
    )
    summary = TextAreaField(
        _l("Summary"),
        filters=[_strip],
        validators=[DataRequired(_l("Write a sentence or two about the case.")), Length(max=500)],
    )
    story = TextAreaField(_l("Story (Markdown)"), validators=[Length(max=20_000)])
    goal = StringField(_l("Goal (optional)"), filters=[_strip], validators=[Optional()])
    pseudonym = StringField(
        _l("How to call the person helped (optional)"),
        filters=[_strip],
        validators=[Length(max=120)],
    )

    def validate_goal(self, field: StringField) -> None:
        self.goal_minor = parse_amount(field, current_app.config["FUND_CURRENCY"])

    @property
    def goal_value(self) -> int | None:
        return getattr(self, "goal_minor", None) if self.goal.data else None

    def fill_from(self, case: Case) -> None:
        self.title.data, self.summary.data, self.story.data = case.title, case.summary, case.story
        self.goal.data = str(to_major(case.goal, case.currency)) if case.goal else ""
        self.pseudonym.data = case.beneficiary_pseudonym or ""


class UpdateForm(Form):
    title = StringField(
        _l("Title"),
        filters=[_strip],
        validators=[DataRequired(_l("Give the update a title.")), Length(max=200)],
    )
    body = TextAreaField(
        _l("What happened (Markdown)"),
        validators=[DataRequired(_l("Write what happened.")), Length(max=20_000)],
    )
    notify = BooleanField(_l("Email this case's supporters"))


def _not_in_future(form: Form, field: DateField) -> None:
    if field.data and is_in_the_future(field.data):
        raise ValidationError(_l("A payment cannot be dated in the future."))
    if field.data and field.data.year < 2000:
        raise ValidationError(_l("Check the year."))


class DisbursementForm(Form):
    case = SelectField(_l("Paid to"), choices=[], validate_choice=True)
    amount = StringField(
        _l("Amount"), filters=[_strip], validators=[DataRequired(_l("Enter the amount paid."))]
    )
    paid_on = DateField(
        _l("Day paid"),
        default=utc_today,
        validators=[InputRequired(_l("Enter the day it was paid.")), _not_in_future],
    )
    note = TextAreaField(_l("Note for the books"), filters=[_strip], validators=[Length(max=1000)])
    #: Made when the form is shown: the same form sent twice records one payment.
    request_key = HiddenField(
        default=lambda: secrets.token_urlsafe(24), validators=[Length(max=64)]
    )

    def __init__(self, *args: object, cases: list[Case], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.case.choices = [SelectChoice("", _l("Choose a case"))] + [
            SelectChoice(str(case.id), case.title) for case in cases
        ]
        self.cases = {str(case.id): case for case in cases}

    def validate_case(self, field: SelectField) -> None:
        if field.data not in self.cases:
            raise ValidationError(_l("Choose the case the money went to."))

    def validate_amount(self, field: StringField) -> None:
        self.amount_minor = parse_amount(field, current_app.config["FUND_CURRENCY"])

    @property
    def chosen_case(self) -> Case | None:
        return self.cases.get(self.case.data or "")


class ReverseForm(Form):
    note = TextAreaField(
        _l("Why it is reversed"),
        filters=[_strip],
        validators=[DataRequired(_l("Say what the mistake was.")), Length(max=1000)],
    )
    paid_on = DateField(
        _l("Day of the correction"),
        default=utc_today,
        validators=[InputRequired(_l("Enter the day.")), _not_in_future],
    )


class InviteForm(Form):
    email = email_field()
    name = StringField(
        _l("Name"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter how others should call them.")), Length(max=80)],
    )
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(OrganizerRole.ORGANIZER.value, _l("Organizer: cases, updates, money")),
            SelectChoice(OrganizerRole.ADMIN.value, _l("Admin: also organizers and the audit log")),
        ],
        default=OrganizerRole.ORGANIZER.value,
    )


#: What each API scope lets a script do, in the words the admin chooses by.
SCOPE_LABELS = {
    "cases:write": _l("Cases: create and change cases, post updates"),
    "disbursements:write": _l("Money paid out: record payments"),
    "exports:read": _l("Exports: read the fund's exports"),
}


class ApiTokenForm(Form):
    name = StringField(
        _l("Name"),
        filters=[_strip],
        validators=[DataRequired(_l("Say what the token is for.")), Length(max=80)],
    )
    scopes = SelectMultipleField(
        _l("What it may do"),
        choices=[SelectChoice(scope, SCOPE_LABELS[scope]) for scope in SCOPES],
        validators=[DataRequired(_l("Choose at least one thing the token may do."))],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    #: Days; a year at most, so that a forgotten script does not hold a key for ever.
    lifetime = SelectField(
        _l("Valid for"),
        choices=[
            SelectChoice(30, _l("30 days")),
            SelectChoice(90, _l("90 days")),
            SelectChoice(365, _l("365 days")),
        ],
        coerce=int,
        default=90,
    )
