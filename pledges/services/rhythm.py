"""A pledge's monthly rhythm: charged on the same day each month, or on a shorter month's last
day, as Stripe bills a subscription from its anchor (Jan 31, Feb 28, Mar 31, not Mar 28)."""

from calendar import monthrange
from datetime import datetime

from pledges.models import Pledge


def add_months(moment: datetime, months: int, *, day: int | None = None) -> datetime:
    """`months` later on `day` (by default the moment's own), or on the month's last day if it
    is shorter."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    wanted = day or moment.day
    return moment.replace(year=year, month=month, day=min(wanted, monthrange(year, month)[1]))


def charge_day(pledge: Pledge) -> int | None:
    """The day of the month the pledge is charged on. Until the provider has said (the
    subscription's anchor), a date of its rhythm tells it, but a month's last day may stand
    for a later one: erring early is safe, as a pause that ends before a renewal lets it be
    charged, and one that ends after it skips it."""
    if pledge.charge_day:
        return pledge.charge_day
    known = pledge.next_charge_at or pledge.paused_until
    return known.day if known else None


def first_on_or_after(charge: datetime, moment: datetime, day: int | None) -> datetime:
    """The first date of the rhythm that `charge` is a date of, and `day` its day, not before
    `moment`: the charge a pause that lets payments be collected from `moment` on ends with."""
    while charge < moment:
        charge = add_months(charge, 1, day=day)
    return charge
