"""The fund's public aggregates, kept a few seconds in each process.

The fund page, the widget, the flyer and every case page add up tens of thousands of rows for
figures that change a few times an hour; every visitor would otherwise wait for the same sums.
Only plain figures are kept (never a database row, never anything about one visitor), per app,
for PUBLIC_CACHE_SECONDS (0: not kept).
"""

import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

T = TypeVar("T")


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    seconds = current_app.config["PUBLIC_CACHE_SECONDS"]
    if seconds <= 0:
        return compute()
    store: dict = current_app.extensions.setdefault("pledges_public_cache", {})
    now = time.monotonic()
    kept = store.get(key)
    if kept is not None and kept[0] > now:
        return kept[1]
    value = compute()  # two threads may both compute on expiry: the same figures, harmlessly
    store[key] = (now + seconds, value)
    return value
