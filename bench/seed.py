"""Seed a large fund for the ledger benchmark, on PostgreSQL.

50,000 supporters, 24 months of contributions (about 1,000,000 rows), 300 cases and 2,000
disbursements, all invented. Rows go in with COPY; the ledger is then built by a full rebuild.

    .venv/bin/python -m bench.seed            (BENCH_DATABASE_URL to choose the database)
"""

import random
import time
from datetime import UTC, datetime, timedelta

from flask_migrate import upgrade
from sqlalchemy import text
from tqdm import tqdm

from bench.common import bench_app, ensure_database
from pledges.extensions import db
from pledges.payments.demo_gateway import add_months, demo_fee
from pledges.services import ledger

SUPPORTERS = 50_000
MONTHS = 24
CASES = 300
DISBURSEMENTS = 2_000
EARMARKED_SHARE = 0.2
SEED = 20261125


def copy_rows(table: str, columns: list[str], rows) -> None:  # noqa: ANN001
    """COPY rows into a table through the session's own psycopg connection."""
    raw = db.session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def main() -> None:
    random.seed(SEED)
    ensure_database()
    app = bench_app()
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        cipher = app.extensions["pledges_cipher"]
        now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        start = add_months(now, -MONTHS)
        started = time.perf_counter()

        copy_rows(
            "cases",
            ["id", "slug", "title", "summary", "story", "goal", "currency", "status", "created_at"],
            (
                (
                    n,
                    f"case-{n}",
                    f"Case {n}",
                    "An invented case.",
                    "",
                    5_000_00,
                    "EUR",
                    "open",
                    start,
                )
                for n in range(1, CASES + 1)
            ),
        )

        def supporters():  # noqa: ANN202
            for n in tqdm(range(1, SUPPORTERS + 1), desc="supporters", unit=" rows"):
                email = f"supporter{n}@bench.invalid"
                yield (n, cipher.blind_index(email), cipher.encrypt(email), "en", start)

        copy_rows(
            "supporters", ["id", "email_index", "email", "locale", "created_at"], supporters()
        )

        pledge_rows, payments = [], []
        for n in range(1, SUPPORTERS + 1):
            amount = random.choice([3_00, 5_00, 5_00, 10_00, 10_00, 15_00, 20_00, 25_00, 50_00])
            earmark = random.randint(1, CASES) if random.random() < EARMARKED_SHARE else None
            first_month = random.randint(0, 8)
            pledge_rows.append((n, n, amount, "EUR", "active", "demo", earmark, start, start))
            for month in range(first_month, MONTHS):
                paid_at = add_months(start, month) + timedelta(hours=random.randint(0, 23 * 24))
                payments.append((paid_at, n, amount, earmark))
        # A fund records payments as they arrive: ids, and the rows on disk, follow paid order.
        payments.sort()
        contribution_rows = []
        for contribution_id, (paid_at, n, amount, earmark) in enumerate(payments, start=1):
            fee = demo_fee(amount)
            contribution_rows.append(
                (contribution_id, n, n, "EUR", amount, fee, amount - fee, 0, "demo",
                 f"bench_in_{contribution_id}", paid_at, paid_at, earmark, amount, "EUR")
            )  # fmt: skip
        copy_rows(
            "pledges",
            [
                "id",
                "supporter_id",
                "amount",
                "currency",
                "status",
                "provider",
                "case_id",
                "created_at",
                "activated_at",
            ],
            pledge_rows,
        )
        copy_rows(
            "contributions",
            ["id", "supporter_id", "pledge_id", "currency", "gross", "fee", "net", "refunded", "provider",
             "provider_payment_id", "paid_at", "created_at", "earmarked_case_id", "paid_amount",
             "paid_currency"],
            tqdm(contribution_rows, desc="contributions", unit=" rows"),
        )  # fmt: skip
        income = sum(row[6] for row in contribution_rows)
        # Funds pay out most, not all, of what comes in: here about 70 %.
        mean = int(income * 0.7 / DISBURSEMENTS)
        copy_rows(
            "disbursements",
            ["id", "case_id", "amount", "currency", "paid_on", "note", "other_income", "created_at"],
            (
                (n, random.randint(1, CASES), random.randint(mean // 2, mean * 3 // 2), "EUR",
                 (start + timedelta(days=random.randint(20, MONTHS * 30))).date(), "bench", 0, start)
                for n in range(1, DISBURSEMENTS + 1)
            ),
        )  # fmt: skip
        for table in ("cases", "supporters", "pledges", "contributions", "disbursements"):
            db.session.execute(
                text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
            )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()  # statistics are transactional too
        seeded = time.perf_counter() - started
        print(f"seeded {SUPPORTERS} supporters, {len(contribution_rows)} contributions, "
              f"{CASES} cases, {DISBURSEMENTS} disbursements in {seeded:.1f} s")  # fmt: skip

        started = time.perf_counter()
        report = ledger.rebuild()
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()  # statistics are transactional too
        print(
            f"ledger built from empty: {report.allocations_written} allocations "
            f"in {time.perf_counter() - started:.1f} s"
        )


if __name__ == "__main__":
    main()
