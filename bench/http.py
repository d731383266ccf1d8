"""HTTP throughput and latency against gunicorn on loopback, on the benchmark fund (PostgreSQL;
run `python -m bench.seed` first).

For each target, wrk (installed from Debian if missing) runs for a fixed time with a fixed number
of connections, each request on a connection of its own (as nginx proxies), after two seconds of
warming up (not counted); the table gives requests/s, p50, p99, errors, and the ratio to a
hello-world route of the same app (same middleware, same gunicorn) measured in the same run:

    /_bench/hello         the baseline
    /_bench/signed-in     the same for a signed-in supporter: the floor of any member page
    /                     the fund page
    /cases/<slug>         the case whose money went to most disbursements
    /member               a supporter signed in, with two years of payments
    POST /stripe/webhook  unique signed invoice.paid events, each a renewal of a Stripe pledge:
                          the webhook verifies and writes them down

and the baseline once more at the end (ratios are to the higher of its two runs). Then two event
workers (`handle-stripe-events`) apply what the webhook run received, against a fake Stripe API
in this process, and the rate at which they do is printed.

It works on a copy of the benchmark database (CREATE DATABASE … TEMPLATE), dropped at the end,
so the payments the webhooks record do not change the fund the other benchmarks read.

    .venv/bin/python -m bench.http [--seconds 10] [--connections 8] [--workers 3]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.common import CONFIG, DATABASE_URL
from pledges import create_app
from pledges.extensions import db
from pledges.models import Supporter
from pledges.services import auth_tokens
from tests.smtp_sink import free_port
from tests.stripe.fake_stripe import FakeStripe

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_SECRET = "whsec_benchmark_secret"
#: Subscriptions (each a bench pledge) whose renewals the webhook run pays, one invoice each.
WEBHOOK_PLEDGES = 2_000
INVOICES_PER_PLEDGE = 3
GOALS = {"/": 0.50, "/member": 0.25, "POST /stripe/webhook": 0.20}
P99_GOAL_MS = 100.0

WEBHOOK_SCRIPT = """
local events = {}
local next_event = 1
function init(args)
  local file = io.open(args[1], "r")
  for line in file:lines() do
    local signature, body = line:match("^([^\\t]+)\\t(.*)$")
    events[#events + 1] = {signature, body}
  end
  file:close()
  -- Each thread takes its own share, so no event is sent twice.
  next_event = tonumber(args[2]) + 1
  step = tonumber(args[3])
end
function request()
  local event = events[next_event]
  if event == nil then
    event = events[1]  -- out of events: a duplicate, which the app answers quickly
  end
  next_event = next_event + step
  return wrk.format("POST", "/stripe/webhook",
    {["Content-Type"] = "application/json", ["Stripe-Signature"] = event[1],
     ["Connection"] = "close"}, event[2])
end
"""

COOKIE_SCRIPT = """
function init(args)
  wrk.headers["Cookie"] = args[1]
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


@contextmanager
def database_copy():
    """A throwaway copy of the benchmark database."""
    url = make_url(DATABASE_URL)
    name = f"{url.database}_http"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settings(database_url: str, fake: FakeStripe) -> dict[str, str]:
    return {
        **{key: str(value) for key, value in CONFIG.items() if key != "SQLALCHEMY_DATABASE_URI"},
        "DATABASE_URL": database_url,
        "PAYMENTS": "stripe",
        "STRIPE_SECRET_KEY": "sk_test_benchmark",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": fake.url,
        "RATELIMIT_ENABLED": "0",
        "MAIL_PORT": str(free_port()),  # nobody listens: the outbox only queues
    }


def sign_in_cookie(app) -> str:  # noqa: ANN001
    """The session cookie of the supporter with the most payments, signed in by their link."""
    with app.app_context():
        supporter = db.session.scalar(
            select(Supporter).order_by(Supporter.id).limit(1)
        )  # every bench supporter pays from the first months on; the first is as busy as any
        token = auth_tokens.issue(supporter)
        db.session.commit()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post(f"/login/{token}", data={"csrf_token": csrf})
    assert response.status_code == 303, response.status_code
    assert client.get("/member").status_code == 200
    return f"session={client.get_cookie('session').value}"


def prepare_webhooks(app, fake: FakeStripe, folder: Path) -> Path:  # noqa: ANN001
    """Renewal invoices paid at the fake Stripe for bench pledges, one signed event per line."""
    lines = []
    with app.app_context():
        pledge_ids = db.session.scalars(
            text("SELECT id FROM pledges ORDER BY id LIMIT :n"), {"n": WEBHOOK_PLEDGES}
        ).all()
        # The seed's pledges are demo pledges: made Stripe's here (in the copy), or every event
        # would match no pledge and the benchmark would time a path that records nothing.
        db.session.execute(
            text("UPDATE pledges SET provider = 'stripe', provider_subscription_id = "
                 "'sub_bench_' || id, provider_customer_id = 'cus_bench_' || id "
                 "WHERE id = ANY(:ids)"),
            {"ids": list(pledge_ids)},
        )  # fmt: skip
        db.session.commit()
    for pledge_id in pledge_ids:
        subscription = _subscription(fake, pledge_id)
        for _ in range(INVOICES_PER_PLEDGE):
            invoice = fake.pay_invoice(subscription["id"])
            payload = json.dumps(fake.event("invoice.paid", invoice))
            lines.append(f"{fake.sign(payload)}\t{payload}")
    path = folder / "events.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _subscription(fake: FakeStripe, pledge_id: int) -> dict:
    """An active monthly subscription at the fake Stripe, naming the pledge as checkout does."""
    now = int(time.time())
    item = {
        "id": f"si_bench_{pledge_id}",
        "quantity": 1,
        "current_period_start": now,
        "current_period_end": now + 30 * 24 * 3600,
        "price": {"id": f"price_bench_{pledge_id}", "unit_amount": 10_00, "currency": "eur",
                  "recurring": {"interval": "month"}},
    }  # fmt: skip
    return fake._store(
        "subscription",
        {"id": f"sub_bench_{pledge_id}", "status": "active", "customer": f"cus_bench_{pledge_id}",
         "cancel_at_period_end": False, "pause_collection": None,
         "metadata": {"pledge_id": str(pledge_id)}, "items": {"object": "list", "data": [item]}},
    )  # fmt: skip


@contextmanager
def gunicorn(environment: dict[str, str], workers: int):  # noqa: ANN201
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.http_app:app", "-c", "gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--access-logfile", "/dev/null"],
        cwd=ROOT,
        env={**os.environ, **environment, "BASE_URL": f"http://127.0.0.1:{port}",
             "WEB_CONCURRENCY": str(workers), "LOG_LEVEL": "warning"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/_bench/hello", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            sys.exit("gunicorn did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def run_wrk(wrk: str, url: str, seconds: int, connections: int, script: str | None = None,
            script_args: list[str] | None = None, threads: int = 2) -> dict:  # fmt: skip
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
        # A connection per request, as nginx opens to gunicorn (no upstream keepalive): kept
        # alive, wrk's few connections stayed with whichever worker took them first, and one
        # worker of three did all the work in some runs and not others.
        "--header",
        "Connection: close",
    ]
    if script:
        command += ["-s", script, url, "--", *(script_args or [])]
    else:
        command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    try:
        return parse_wrk(output)
    except (KeyError, AttributeError):
        sys.exit(f"could not read wrk's output:\n{output}")


def parse_wrk(output: str) -> dict:
    def duration_ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]

    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": duration_ms(latency["50"]),
        "p99": duration_ms(latency["99"]),
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--event-threads",
        type=int,
        default=4,
        help="threads of each of the two event workers (the service's default: 4)",
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    fake = FakeStripe(WEBHOOK_SECRET)
    fake.start()
    with database_copy() as database_url, tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        environment = settings(database_url, fake)
        app = create_app({**CONFIG, "SQLALCHEMY_DATABASE_URI": database_url})
        with app.app_context():
            upgrade()  # a fund seeded before the latest migration
        cookie = sign_in_cookie(app)
        with app.app_context():
            slug = db.session.scalar(
                text("SELECT c.slug FROM cases c JOIN disbursements d ON d.case_id = c.id "
                     "GROUP BY c.slug ORDER BY count(*) DESC LIMIT 1")
            )  # fmt: skip
        events = prepare_webhooks(app, fake, folder)
        with app.app_context():
            db.engine.dispose()
        (folder / "cookie.lua").write_text(COOKIE_SCRIPT)
        (folder / "webhook.lua").write_text(WEBHOOK_SCRIPT)
        threads = 2
        with gunicorn(environment, args.workers) as base:
            targets = [
                ("hello (baseline)", f"{base}/_bench/hello", None, None),
                ("/", f"{base}/", None, None),
                (f"/cases/{slug}", f"{base}/cases/{slug}", None, None),
                (
                    "signed-in hello",
                    f"{base}/_bench/signed-in",
                    str(folder / "cookie.lua"),
                    [cookie],
                ),
                ("/member", f"{base}/member", str(folder / "cookie.lua"), [cookie]),
                ("POST /stripe/webhook", base, str(folder / "webhook.lua"), None),
            ]
            results = []
            for name, url, script, script_args in targets:
                if name.startswith("POST"):
                    script_args = [str(events), "0", "1"]
                    threads = 1  # one Lua state walks the events: each is sent once
                if not name.startswith("POST"):  # each worker's first requests fill its caches
                    run_wrk(wrk, url, 2, args.connections, script, script_args, threads=threads)
                results.append((name, run_wrk(wrk, url, args.seconds, args.connections, script,
                                              script_args, threads=threads)))  # fmt: skip
            # The baseline again at the end: on a shared machine one run of it can be far off.
            again = run_wrk(wrk, targets[0][1], args.seconds, args.connections)
        print(f"gunicorn: {args.workers} workers; wrk: 2 threads (1 for the webhook, which "
              f"walks one list of events), {args.connections} connections, {args.seconds} s per "
              "target\n")  # fmt: skip
        print_table(results, again)
        received = received_events(database_url)
        print(
            f"\n{len(events.read_text().splitlines())} signed events prepared, {received} received."
        )
        handle_events(environment, database_url, fake, received, 2, args.event_threads)
    fake.stop()


def print_table(results: list[tuple[str, dict]], again: dict) -> None:
    """Every target against the higher of the baseline's two runs (the stricter ratio)."""
    baseline = max(results[0][1]["rps"], again["rps"])
    print(f"{'target':<28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'ratio':>8}")
    for name, result in [*results, ("hello (again, at the end)", again)]:
        ratio = result["rps"] / baseline
        goal = GOALS.get(name)
        verdict = ""
        if goal is not None:
            verdict = " ✓" if ratio >= goal and result["p99"] < P99_GOAL_MS else " ✗"
        print(f"{name:<28}{result['rps']:>9.0f}{result['p50']:>9.1f}{result['p99']:>9.1f}"
              f"{result['errors']:>8}{ratio:>7.0%}{verdict}")  # fmt: skip
    print(
        f"\ngoals: / ≥ 50 %, /member ≥ 25 %, webhook ≥ 20 % of the baseline (the higher of its "
        f"two runs); p99 < {P99_GOAL_MS:.0f} ms; no errors."
    )


def received_events(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = connection.scalar(text("SELECT count(*) FROM stripe_events"))
    engine.dispose()
    return count


def handle_events(
    environment: dict[str, str],
    database_url: str,
    fake: FakeStripe,
    received: int,
    workers: int,
    threads: int,
) -> None:
    """What the webhook run received, handled by `workers` event workers at once (as the
    service runs them): payments recorded, the ledger placed, each pledge brought in line."""
    calls_before = len(fake.requests)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "bench.http_app",
                "pledges",
                "handle-stripe-events",
                "--once",
                f"--threads={threads}",
            ],
            cwd=ROOT,
            env={**environment, "LOG_LEVEL": "warning"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(workers)
    ]
    failed = sum(process.wait() != 0 for process in processes)
    seconds = time.perf_counter() - started
    engine = create_engine(database_url)
    with engine.connect() as connection:
        handled, recorded = connection.execute(
            text("SELECT count(*) FILTER (WHERE handled_at IS NOT NULL), "
                 "(SELECT count(*) FROM contributions WHERE provider = 'stripe') "
                 "FROM stripe_events")
        ).one()  # fmt: skip
    engine.dispose()
    calls = len(fake.requests) - calls_before
    print(
        f"handled by {workers} event workers of {threads} threads: {handled} of {received} "
        f"events in {seconds:.1f} s "
        f"({handled / seconds:.0f} events/s, {calls / max(handled, 1):.1f} Stripe API calls "
        f"each), {recorded} payments recorded"
        + (f"; {failed} workers exited with an error" if failed else "")
    )


if __name__ == "__main__":
    main()
