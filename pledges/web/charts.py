"""Charts drawn on the server as SVG: no script, nothing fetched, readable without colour
(each bar has a title, and a table carries the same figures)."""

from dataclasses import dataclass
from datetime import date

from pledges.services.dashboard import Month

WIDTH, HEIGHT, AXIS = 720, 240, 40
BAR_GAP = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    kind: str  # "income" or "paid"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    labels: list[tuple[float, str]]
    months: list[Month]
    currency: str
    top: int


def income_chart(months: list[Month], currency: str) -> Chart:
    """Two bars a month, income beside paid out, scaled to the largest figure."""
    top = max([month.income for month in months] + [month.paid_out for month in months] + [1])
    slot = (WIDTH - AXIS) / max(len(months), 1)
    bar_width = (slot - 3 * BAR_GAP) / 2
    plot_height = HEIGHT - 30
    bars, labels = [], []
    for index, month in enumerate(months):
        left = AXIS + index * slot + BAR_GAP
        for offset, (kind, value) in enumerate(
            (("income", month.income), ("paid", month.paid_out))
        ):
            height = max(value, 0) / top * (plot_height - 10)
            x = left + offset * (bar_width + BAR_GAP)
            bars.append(Bar(round(x, 1), round(plot_height - height, 1), round(bar_width, 1),
                            round(height, 1), value, kind))  # fmt: skip
        day = date.fromisoformat(month.key + "-01")
        labels.append((round(left + bar_width + BAR_GAP / 2, 1), day.strftime("%b")))
    return Chart(WIDTH, HEIGHT, plot_height, bars, labels, months, currency, top)
