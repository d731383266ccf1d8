"""Ledger benchmark on the seeded fund (run `python -m bench.seed` first).

Prints: recording one disbursement (p50 / p95 over 100), a full rebuild and its peak memory,
and the member page for 500 random supporters (SQL queries per page, server time p50 / p95).

    .venv/bin/python -m bench.ledger
"""

import multiprocessing
import random
import time
from datetime import date

from sqlalchemy import event, func, select, text

from bench.common import bench_app, percentile
from pledges.extensions import db
from pledges.models import Case, Disbursement, Supporter
from pledges.services import ledger

RECORDINGS = 100
MEMBERS = 500
WARM_UP = 20


def _peak_rss_mb() -> float:
    """The process's peak resident memory since the last reset (VmHWM), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def measure_rebuild(queue: multiprocessing.Queue) -> None:
    """In a fresh process, with the peak memory mark reset, so the peak is the rebuild's own."""
    app = bench_app()
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        _reset_peak_rss()
        before = _peak_rss_mb()
        started = time.perf_counter()
        report = ledger.rebuild()
        db.session.commit()
        elapsed = time.perf_counter() - started
        peak = _peak_rss_mb()
        started = time.perf_counter()
        problems = ledger.check()
        checked = time.perf_counter() - started
        queue.put((elapsed, before, peak, report, len(problems), checked))


def bench_rebuild() -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=measure_rebuild, args=(queue,))
    process.start()
    elapsed, before, peak, report, problems, checked = queue.get()
    process.join()
    print(
        f"full rebuild: {elapsed:.2f} s for {report.disbursements} disbursements "
        f"({report.allocations_written} allocations written, {report.allocations_removed} removed); "
        f"peak memory {peak:.0f} MB (process at start {before:.0f} MB)"
    )
    print(f"ledger-check: {checked:.2f} s, {problems} problems")


def bench_recording(app) -> None:  # noqa: ANN001
    """Record disbursements dated today, each in a transaction that is then rolled back, so the
    fund stays as seeded. The time runs to the end of the last statement (a flush); the commit,
    a few milliseconds with fsync, is not in it."""
    with app.app_context():
        case_ids = list(db.session.scalars(select(Case.id)))
        today = date.today()
        mean = int(db.session.scalar(select(func.avg(Disbursement.amount))))
        timings, covered = [], []
        for _ in range(RECORDINGS):
            case = db.session.get(Case, random.choice(case_ids))
            started = time.perf_counter()
            recorded = ledger.record_disbursement(
                case, random.randint(mean // 2, mean * 3 // 2), today
            )
            db.session.flush()
            timings.append((time.perf_counter() - started) * 1000)
            covered.append(len(recorded.allocations))
            db.session.rollback()
    print(
        f"record one disbursement: p50 {percentile(timings, 0.5):.1f} ms, "
        f"p95 {percentile(timings, 0.95):.1f} ms over {RECORDINGS} "
        f"(median {percentile(covered, 0.5):.0f} contributions drawn on)"
    )


def bench_member_page(app) -> None:  # noqa: ANN001
    with app.app_context():
        ids = list(db.session.scalars(select(Supporter.id)))
        engine = db.engine
    chosen = random.sample(ids, MEMBERS + WARM_UP)
    client = app.test_client()
    statements: list[int] = []
    count = [0]

    def counter(*_args: object) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", counter)
    timings = []
    try:
        for number, supporter_id in enumerate(chosen):
            with client.session_transaction() as session:
                session["_user_id"] = str(supporter_id)
                session["_fresh"] = True
            count[0] = 0
            started = time.perf_counter()
            response = client.get("/member")
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            if number >= WARM_UP:  # a running server has its templates and statements compiled
                timings.append(elapsed)
                statements.append(count[0])
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    print(
        f"member page ({MEMBERS} supporters, after {WARM_UP} to warm up): {min(statements)}-{max(statements)} SQL queries "
        f"per page; server time p50 {percentile(timings, 0.5):.1f} ms, "
        f"p95 {percentile(timings, 0.95):.1f} ms"
    )


def main() -> None:
    random.seed(7)
    app = bench_app()
    with app.app_context():
        counts = {
            table: db.session.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("supporters", "contributions", "cases", "disbursements", "allocations")
        }
    print("fund:", ", ".join(f"{count} {table}" for table, count in counts.items()))
    bench_recording(app)
    bench_rebuild()
    bench_member_page(app)


if __name__ == "__main__":
    main()
