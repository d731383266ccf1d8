"""The organizers' pages on the seeded fund (run `python -m bench.seed` first).

Prints, each over repeated runs: the dashboard's figures and chart (p50 / p95), the pool figure
beside the disbursement form (p50 / p95), counting a case's audience for an update, and
streaming the whole contributions export (rows per second, peak memory).

    .venv/bin/python -m bench.organizer
"""

import time
from datetime import date

from sqlalchemy import func, select, text

from bench.common import bench_app, percentile
from bench.ledger import _peak_rss_mb, _reset_peak_rss
from pledges.extensions import db
from pledges.models import Case, Disbursement
from pledges.services import cases, dashboard, disbursements, exports

RUNS = 20


def _timed(work, runs: int = RUNS) -> list[float]:  # noqa: ANN001
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _report(name: str, timings: list[float]) -> None:
    print(
        f"{name}: p50 {percentile(timings, 0.5):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms "
        f"over {len(timings)}"
    )


def main() -> None:
    app = bench_app()
    with app.app_context(), app.test_request_context():
        db.session.execute(text("SELECT 1"))
        contributions = db.session.scalar(text("SELECT count(*) FROM contributions"))
        print(f"fund: {contributions:,} contributions")
        _report("dashboard", _timed(dashboard.build))

        busiest = db.session.scalar(
            select(Case)
            .join(Disbursement, Disbursement.case_id == Case.id)
            .group_by(Case.id)
            .order_by(func.count().desc())
            .limit(1)
        )
        _report("pool figure", _timed(lambda: disbursements.pool_for(busiest, date.today())))
        audience = cases.supporter_count(busiest)
        _report(
            f"update audience ({audience:,} supporters)",
            _timed(lambda: cases.supporter_count(busiest), runs=5),
        )

        _reset_peak_rss()
        before = _peak_rss_mb()
        started = time.perf_counter()
        size = sum(len(chunk) for chunk in exports.as_csv(exports.rows("contributions")))
        elapsed = time.perf_counter() - started
        print(
            f"contributions export: {contributions / elapsed:,.0f} rows/s, {size / 1e6:.0f} MB in "
            f"{elapsed:.1f} s, peak memory {_peak_rss_mb():.0f} MB (from {before:.0f} MB)"
        )


if __name__ == "__main__":
    main()
