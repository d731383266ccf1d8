"""Flask-WTF forms: every form carries a CSRF token; messages go through Babel."""

from collections.abc import Iterable
from functools import lru_cache

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import Email, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import Select, html_params

from pledges.money import to_minor

PRESET_AMOUNTS = ("5", "10", "20", "50")
MIN_AMOUNT, MAX_AMOUNT = 1, 10_000


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


#: WTForms' own message, in WTForms' own catalogs for every language.
_INVALID_INPUT = "Invalid input."


def _no_nul(form: FlaskForm, field: Field) -> None:
    """PostgreSQL refuses a NUL character in text: say so beside the field, not with a 500."""
    if any(isinstance(raw, str) and "\x00" in raw for raw in field.raw_data or ()):
        raise ValidationError(field.gettext(_INVALID_INPUT))


class Form(FlaskForm):
    """Every form of the app: Flask-WTF's, and no field of it may carry a NUL character."""

    def validate(self, extra_validators: dict | None = None) -> bool:
        extra = {name: [_no_nul] for name in self._fields}
        for name, more in (extra_validators or {}).items():
            extra[name] = [*extra.get(name, []), *more]
        return super().validate(extra)


def option_tags(choices: Iterable[tuple[object, object, bool]]) -> Markup:
    """`<option>`s for (value, label, selected) triples, joined in one pass: a select of every
    open case may have hundreds, and a template loop or a WTForms call for each took
    milliseconds per select."""
    return Markup("".join(_option_tag(*choice) for choice in choices))


def _option_tag(value: object, label: object, selected: bool) -> str:
    if type(value) is str and type(label) is str:  # not a lazy string, whose text may change
        return _kept_option_tag(value, label, selected)
    return _render_option_tag(value, label, selected)


def _render_option_tag(value: object, label: object, selected: bool) -> str:
    mark = " selected" if selected else ""
    return f'<option value="{escape(value)}"{mark}>{escape(label)}</option>'


#: The same open cases are offered on every page: each option is escaped once, not each time.
_kept_option_tag = lru_cache(maxsize=8192)(_render_option_tag)


class CaseSelect(Select):
    """A select of every open case, with its options made by `option_tags`."""

    def __call__(self, field: SelectField, **kwargs: object) -> Markup:
        kwargs.setdefault("id", field.id)
        options = option_tags(
            (choice.value, choice.label, choice.selected) for choice in field.iter_choices()
        )
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


def email_field() -> EmailField:
    # Phones' autofill often adds a trailing space; that is not a mistake worth an error.
    return EmailField(
        _l("Email"),
        filters=[_strip],
        validators=[
            InputRequired(_l("Enter your email address.")),
            Email(_l("Enter a valid email address."), check_deliverability=False),
            Length(max=254),
        ],
    )


def monthly_amount(typed: str, currency: str) -> int:
    """A typed monthly amount in minor units, or a ValidationError saying what to type."""
    if not typed:
        raise ValidationError(_l("Enter an amount."))
    try:
        minor = to_minor(typed, currency)
    except ValueError as error:
        raise ValidationError(_l("Enter an amount like 12 or 12.50.")) from error
    if not to_minor(str(MIN_AMOUNT), currency) <= minor <= to_minor(str(MAX_AMOUNT), currency):
        raise ValidationError(
            _l("Choose between %(low)s and %(high)s a month.", low=MIN_AMOUNT, high=MAX_AMOUNT)
        )
    return minor


def accepted_currencies() -> list[str]:
    return current_app.config["PLEDGE_CURRENCIES"]


class PledgeForm(Form):
    amount = RadioField(
        _l("Monthly amount"),
        choices=[SelectChoice(value) for value in PRESET_AMOUNTS]
        + [SelectChoice("custom", _l("Other"))],
        default="10",
        validators=[InputRequired(_l("Choose an amount."))],
    )
    custom_amount = StringField(_l("Other amount"), validators=[Optional()])
    #: Chosen by a link above the form (the amounts are shown in it), carried here.
    currency_code = HiddenField()
    email = email_field()
    show_name = BooleanField(_l("Show my name publicly"))
    public_name = StringField(_l("Public name"), validators=[Length(max=60)])
    earmark = SelectField(
        _l("Where should it go?"),
        choices=[SelectChoice("")],
        validate_choice=True,
        widget=CaseSelect(),
    )

    def __init__(self, *args: object, cases: list | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.earmark.choices = [SelectChoice("", _l("Wherever the fund needs it most"))] + [
            SelectChoice(case.slug, case.title) for case in cases or []
        ]
        self.amount_minor: int | None = None

    @property
    def currency(self) -> str:
        chosen = (self.currency_code.data or "").upper()
        return chosen if chosen in accepted_currencies() else current_app.config["FUND_CURRENCY"]

    def validate_currency_code(self, field: HiddenField) -> None:
        if field.data and field.data.upper() not in accepted_currencies():
            raise ValidationError(_l("The fund does not take pledges in this currency."))

    def validate_amount(self, field: RadioField) -> None:
        typed = (self.custom_amount.data or "").strip()
        if field.data == "custom":
            value = typed
        elif typed and typed != field.data:
            # Both a preset and a different typed amount: never guess which one to charge.
            raise ValidationError(
                _l(
                    "Choose “Other” to give the amount you typed, "
                    "or clear it to give the one ticked."
                )
            )
        else:
            value = field.data
        self.amount_minor = monthly_amount(value, self.currency)

    def validate_public_name(self, field: StringField) -> None:
        if self.show_name.data and not (field.data or "").strip():
            raise ValidationError(_l("Enter the name to show, or stay anonymous."))

    @property
    def chosen_public_name(self) -> str | None:
        return (self.public_name.data or "").strip() or None if self.show_name.data else None


class EmailForm(Form):
    email = email_field()


class ConfirmForm(Form):
    """Nothing to fill in: a button and its CSRF token."""
