"""Migrations run on databases that hold data, not only on empty ones."""

import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from pledges import create_app
from pledges.extensions import db
from pledges.services import demo_data, ledger
from tests.conftest import BASE_CONFIG, DATABASES, POSTGRES_URL


@pytest.fixture(params=DATABASES)
def fund_app(request, tmp_path, monkeypatch):
    """An app on an empty database of its own, which each test migrates as far as it needs: a
    SQLite file, or a PostgreSQL database made for it (the two differ, e.g. in the size of an
    integer product)."""
    monkeypatch.setenv("PLEDGES_INSTANCE", str(tmp_path))
    server = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fund.db'}"
    else:
        server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        name = f"{make_url(POSTGRES_URL).database}_migrations"
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    yield app, url
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if server is not None:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _insert_supporter() -> None:
    """Supporter 1, as raw SQL writes it at an older revision than the models know."""
    db.session.execute(
        text(
            "INSERT INTO supporters (id, email_index, email, locale, created_at) "
            "VALUES (1, 'i', 'sealed', 'en', '2026-11-01')"
        )
    )


def test_upgrading_a_fund_with_a_ledger_keeps_every_row(fund_app):
    app, url = fund_app
    with app.app_context():
        upgrade(revision="0003")
        # The demo fund as an 0003 schema holds it: contributions, disbursements, allocations.
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO cases (id, slug, title, summary, story, currency, status, "
                    "created_at) VALUES (1000, 'c', 'C', 's', '', 'EUR', 'open', '2026-01-01')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO disbursements (id, case_id, amount, currency, paid_on, note, "
                    "other_income, created_at) VALUES (1000, 1000, 500, 'EUR', '2026-02-01', '', 500, "
                    "'2026-02-01')"
                )
            )
        engine.dispose()
        upgrade()
        assert db.session.execute(text("SELECT amount, in_ledger FROM disbursements")).one() == (
            500,
            1,
        )
        demo_data.load()
        db.session.commit()
        assert ledger.check() == []
        allocations = db.session.scalar(text("SELECT count(*) FROM allocations"))
        assert allocations > 0
        db.session.remove()
        # And back: the data of older revisions survives the way down.
        downgrade(revision="0003")
        assert db.session.scalar(text("SELECT count(*) FROM allocations")) == allocations
        db.session.remove()
        db.engine.dispose()


def test_payments_made_before_pledge_currencies_keep_what_was_paid(fund_app):
    """0011 adds what the supporter paid; every earlier payment was in the ledger's currency."""
    app, _ = fund_app
    with app.app_context():
        upgrade()
        demo_data.load()
        db.session.commit()
        before = db.session.execute(text("SELECT id, gross, currency FROM contributions")).all()
        assert before
        db.session.remove()
        downgrade(revision="0010")
        upgrade()
        after = db.session.execute(
            text("SELECT id, paid_amount, paid_currency FROM contributions")
        ).all()
        assert sorted(after) == sorted(before)
        assert ledger.check() == []
        db.session.remove()
        db.engine.dispose()


def _insert_sent_emails(*emails: dict) -> None:
    """Emails sent, as raw SQL writes them at an older revision: a key each, and maybe a kind,
    a context and the error of an attempt before."""
    db.session.execute(
        text(
            "INSERT INTO outbox_emails (dedupe_key, kind, context, message_id, status, attempts, "
            "next_attempt_at, created_at, last_error) VALUES (:key, :kind, :context, :key, "
            "'sent', 1, '2026-11-01', '2026-11-01', :error)"
        ),
        [{"kind": "sign-in", "context": "{}", "error": None, **email} for email in emails],
    )
    db.session.commit()


def test_names_kept_by_earlier_confirmations_are_removed_from_the_outbox(fund_app):
    """Before 0014 the email confirming a public name kept the name, in plain JSON, for good."""
    app, _ = fund_app
    with app.app_context():
        upgrade(revision="0013")
        _insert_sent_emails(
            {"key": "a", "kind": "account-changed",
             "context": '{"change": "name-shown", "name": "Vera Visible"}'},
            {"key": "b", "kind": "account-changed",
             "context": '{"change": "name-removed", "name": null}'},
            {"key": "c", "kind": "account-changed",
             "context": '{"change": "preferences", "wants_digest": true}'},
            {"key": "d", "kind": "welcome", "context": '{"pledge_id": 7}'},
        )  # fmt: skip

        upgrade()

        contexts = db.session.execute(
            text("SELECT dedupe_key, context FROM outbox_emails ORDER BY dedupe_key")
        ).all()
        # SQLite gives the JSON text, PostgreSQL the object.
        read = [(key, c if isinstance(c, dict) else json.loads(c)) for key, c in contexts]
        assert read == [
            ("a", {"change": "name-shown"}),
            ("b", {"change": "name-removed"}),
            ("c", {"change": "preferences", "wants_digest": True}),
            ("d", {"pledge_id": 7}),
        ]
        db.session.remove()
        db.engine.dispose()


def test_addresses_quoted_in_the_outbox_s_errors_are_removed(fund_app):
    """Before 0020 an email retried kept the server's refusal, address and all, once sent."""
    app, _ = fund_app
    with app.app_context():
        upgrade(revision="0019")
        _insert_sent_emails(
            {"key": "a", "error": "{'donor@example.org': (451, b'4.3.0 try again later')}"},
            {"key": "b", "error": "SMTPServerDisconnected: Connection unexpectedly closed"},
            {"key": "c"},
        )

        upgrade()

        rows = db.session.execute(text("SELECT dedupe_key, last_error FROM outbox_emails"))
        errors = {key: error for key, error in rows}
        assert "donor@example.org" not in errors["a"]
        assert "[email]" in errors["a"] and "(451, b'4.3.0 try again later')" in errors["a"]
        assert errors["b"] == "SMTPServerDisconnected: Connection unexpectedly closed"
        assert errors["c"] is None


def test_tokens_of_admins_removed_before_0021_are_revoked(fund_app):
    """Admin 1 never left; 2 is removed; 3 was removed on 5 November and invited back since
    (found by review: its tokens made before the removal were kept)."""
    app, _ = fund_app
    with app.app_context():
        upgrade(revision="0020")
        for organizer_id, removed_at in [(1, None), (2, "2026-11-02"), (3, None)]:
            db.session.execute(
                text(
                    "INSERT INTO organizers (id, email_index, email, name, role, session_epoch, "
                    "created_at, removed_at) VALUES (:id, :index, 'sealed', 'A', 'admin', 0, "
                    "'2026-11-01', :removed_at)"
                ),
                {"id": organizer_id, "index": f"i{organizer_id}", "removed_at": removed_at},
            )
        db.session.execute(
            text(
                "INSERT INTO audit_entries (organizer_id, action, subject, detail, created_at) "
                "VALUES (1, 'organizer.remove', 'organizer:3', '', '2026-11-05')"
            )
        )
        for token_id, maker, made in [(1, 1, "01"), (2, 2, "01"), (3, 3, "01"), (4, 3, "10")]:
            db.session.execute(
                text(
                    "INSERT INTO api_tokens (id, name, token_hash, prefix, scopes, created_by_id, "
                    "created_at, expires_at) VALUES (:id, 't', :hash, 'plg_', 'exports:read', "
                    ":maker, :made, '2027-11-01')"
                ),
                {"id": token_id, "hash": f"h{token_id}", "maker": maker, "made": f"2026-11-{made}"},
            )
        db.session.commit()

        upgrade()

        revoked = db.session.execute(
            text("SELECT id, revoked_at IS NOT NULL FROM api_tokens ORDER BY id")
        ).all()
        assert [tuple(row) for row in revoked] == [(1, False), (2, True), (3, True), (4, False)]


def _insert_payments_with_receipts(receipts: list[str | None]) -> None:
    """Supporter 1's payments 1, 2, …, each with its receipt link (or none), as at 0021."""
    _insert_supporter()
    db.session.execute(
        text(
            "INSERT INTO contributions (id, supporter_id, currency, paid_amount, paid_currency, "
            "gross, fee, net, refunded, disputed, provider, provider_payment_id, paid_at, "
            "created_at, receipt_url) VALUES (:id, 1, 'EUR', 100, 'EUR', 100, 0, 100, 0, 0, "
            "'stripe', :pid, '2026-11-01', '2026-11-01', :receipt)"
        ),
        [{"id": n, "pid": f"in_{n}", "receipt": r} for n, r in enumerate(receipts, start=1)],
    )
    db.session.commit()


def test_links_to_the_provider_s_pages_are_encrypted_by_0022_and_back_by_its_downgrade(
    fund_app,
):
    app, _ = fund_app
    receipt = "https://invoice.stripe.com/i/acct_1/donor"
    with app.app_context():
        upgrade(revision="0021")
        _insert_payments_with_receipts([receipt, None])
        stored = text("SELECT receipt_url FROM contributions ORDER BY id")

        upgrade()
        db.session.commit()
        # Stopped halfway on SQLite and run again, it seals nothing twice.
        downgrade(revision="0021")
        db.session.execute(text("UPDATE contributions SET receipt_url = :r WHERE id = 1"),
                           {"r": app.extensions["pledges_cipher"].encrypt(receipt)})  # fmt: skip
        db.session.commit()
        upgrade()

        sealed, empty = db.session.scalars(stored).all()
        assert empty is None and "stripe.com" not in sealed
        assert app.extensions["pledges_cipher"].decrypt(sealed) == receipt
        # A link written in clear meanwhile, by a worker still on the code before 0022.
        db.session.execute(text("UPDATE contributions SET receipt_url = :r WHERE id = 2"),
                           {"r": receipt})  # fmt: skip
        db.session.commit()  # our read's lock would keep PostgreSQL's ALTER waiting
        downgrade(revision="0021")
        assert db.session.scalars(stored).all() == [receipt, receipt]


def test_0022_rewrites_many_links_in_a_few_statements(fund_app):
    """Found by review: one UPDATE per payment, while the table was locked: minutes on a fund
    with a million payments, when no payment could be recorded."""
    app, _ = fund_app
    rows = 3_000
    with app.app_context():
        upgrade(revision="0021")
        _insert_payments_with_receipts([f"https://x/{n}" for n in range(rows)])
        statements: list[str] = []

        def note(conn, cursor, statement, *args) -> None:  # noqa: ANN001
            statements.append(statement.lstrip().upper())

        event.listen(db.engine, "before_cursor_execute", note)
        try:
            upgrade()
        finally:
            event.remove(db.engine, "before_cursor_execute", note)

        assert sum(s.startswith("UPDATE CONTRIBUTIONS") for s in statements) <= 2
        sealed = db.session.scalars(text("SELECT receipt_url FROM contributions")).all()
        assert len(sealed) == rows and not any(s.startswith("https") for s in sealed)


def test_refunds_and_disputes_made_before_0015_are_kept_in_the_currency_paid(fund_app):
    """0015 keeps what went back in the currency paid; before, only the ledger's amounts were
    kept, and the pages converted them back."""
    app, _ = fund_app
    with app.app_context():
        upgrade(revision="0014")
        _insert_supporter()
        insert = text(
            "INSERT INTO contributions (id, supporter_id, currency, paid_amount, paid_currency, "
            "gross, fee, net, refunded, disputed, provider, provider_payment_id, paid_at, "
            "created_at) VALUES (:id, 1, 'EUR', :paid, :paid_currency, :gross, 0, :gross, "
            ":refunded, :disputed, 'stripe', :id, '2026-11-01', '2026-11-01')"
        )
        for row in [
            # In the ledger's currency: the same amounts.
            {
                "id": 1,
                "paid": 2000,
                "paid_currency": "EUR",
                "gross": 2000,
                "refunded": 500,
                "disputed": 1500,
            },
            # Converted, in part: back at the payment's rate, rounded down as the pages did.
            {
                "id": 2,
                "paid": 1000,
                "paid_currency": "USD",
                "gross": 912,
                "refunded": 228,
                "disputed": 0,
            },
            # Converted: the cent the old rounding left, then all of it given back.
            {
                "id": 3,
                "paid": 1000,
                "paid_currency": "USD",
                "gross": 912,
                "refunded": 303,
                "disputed": 608,
            },
            {
                "id": 4,
                "paid": 1000,
                "paid_currency": "USD",
                "gross": 912,
                "refunded": 912,
                "disputed": 0,
            },
            # Large: $600.00 of which €400.00 went back, 60000 * 40000 beyond 32 bits.
            {
                "id": 5,
                "paid": 60000,
                "paid_currency": "USD",
                "gross": 54720,
                "refunded": 40000,
                "disputed": 0,
            },
        ]:
            db.session.execute(insert, row)
        db.session.commit()

        upgrade()

        rows = db.session.execute(
            text("SELECT id, refunded_paid, disputed_paid FROM contributions ORDER BY id")
        ).all()
        assert [tuple(row) for row in rows] == [
            (1, 500, 1500),
            (2, 250, 0),
            (3, 332, 666),  # what the pages showed; the next event sets it right
            (4, 1000, 0),
            (5, 40000 * 60000 // 54720, 0),
        ]
        db.session.remove()
        downgrade(revision="0014")
        assert db.session.scalar(text("SELECT refunded FROM contributions WHERE id = 3")) == 303
        db.session.remove()
        db.engine.dispose()


def test_demo_pledges_learn_their_charge_day_from_their_start_and_stripe_ones_wait(fund_app):
    """0017: a demo pledge is charged on the day it started; a Stripe pledge's day comes from
    its subscription's anchor, which its next event or sync-stripe brings."""
    app, _ = fund_app
    with app.app_context():
        upgrade(revision="0016")
        _insert_supporter()
        insert = text(
            "INSERT INTO pledges (id, supporter_id, amount, currency, status, provider, "
            "created_at, activated_at) VALUES (:id, 1, 1000, 'EUR', 'active', :provider, "
            "'2026-01-31 09:00:00', :activated)"
        )
        for row in [
            {"id": 1, "provider": "demo", "activated": "2026-01-31 23:30:00+00:00"},
            {"id": 2, "provider": "stripe", "activated": "2026-01-31 09:00:00+00:00"},
            {"id": 3, "provider": "demo", "activated": None},
        ]:
            db.session.execute(insert, row)
        db.session.commit()

        upgrade()

        days = db.session.execute(text("SELECT id, charge_day FROM pledges ORDER BY id")).all()
        assert [tuple(row) for row in days] == [(1, 31), (2, None), (3, None)]
        db.session.remove()
