"""The forms on a supporter's member page, one per change they can make."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from pledges.forms import CaseSelect, Form, monthly_amount
from pledges.models import Case, Pledge


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class AmountForm(Form):
    amount = StringField(_l("New monthly amount"), filters=[_strip])

    def __init__(self, *args: object, pledge: Pledge, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.pledge = pledge

    def validate_amount(self, field: StringField) -> None:
        self.amount_minor = monthly_amount(field.data or "", self.pledge.currency)


class GiftForm(Form):
    amount = StringField(_l("Amount"), filters=[_strip])
    earmark = SelectField(
        _l("Where should it go?"), choices=[], validate_choice=True, widget=CaseSelect()
    )

    def __init__(self, *args: object, cases: list[Case], currency: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        # A gift is in the fund's currency, whatever the pledge's: the label says which.
        self.amount.label.text = _("Amount, in %(currency)s", currency=currency)
        self.earmark.choices = [SelectChoice("", _l("Wherever the fund needs it most"))] + [
            SelectChoice(case.slug, case.title) for case in cases
        ]
        self.cases = {case.slug: case for case in cases}

    def validate_amount(self, field: StringField) -> None:
        self.amount_minor = monthly_amount(field.data or "", self.currency)

    @property
    def chosen_case(self) -> Case | None:
        return self.cases.get(self.earmark.data or "")


class PublicNameForm(Form):
    name = StringField(
        _l("Name to show"),
        filters=[_strip],
        validators=[DataRequired(_l("Enter the name to show.")), Length(max=60)],
    )


class PauseForm(Form):
    months = RadioField(
        _l("Pause for"),
        choices=[
            SelectChoice("1", _l("one month")),
            SelectChoice("2", _l("two months")),
            SelectChoice("3", _l("three months")),
        ],
        default="1",
        validators=[InputRequired(_l("Choose how long."))],
    )


class CancelForm(Form):
    reason = StringField(
        _l("Why? (optional, a few words)"), filters=[_strip], validators=[Length(max=80)]
    )


class EarmarkForm(Form):
    earmark = SelectField(
        _l("Where should it go?"), choices=[], validate_choice=True, widget=CaseSelect()
    )

    def __init__(self, *args: object, cases: list[Case], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.earmark.choices = [SelectChoice("", _l("Wherever the fund needs it most"))] + [
            SelectChoice(case.slug, case.title) for case in cases
        ]
        self.cases = {case.slug: case for case in cases}

    @property
    def chosen_case(self) -> Case | None:
        return self.cases.get(self.earmark.data or "")
