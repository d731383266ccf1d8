"""docs/deploy.md is followed by operators word for word: what it names must exist."""

import re
from pathlib import Path

from pledges.payments.stripe_events import HANDLERS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def test_the_webhook_events_to_enable_are_exactly_those_we_handle():
    section = DEPLOY.split("## 8. Stripe", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", section))
    assert named == set(HANDLERS)


def test_every_command_it_runs_exists(runner):
    commands = set(re.findall(r"flask --app wsgi pledges ([a-z-]+)", DEPLOY))
    assert {"doctor", "send-reminders", "sync-stripe", "ledger-check", "invite-organizer",
            "deliver-mail", "handle-stripe-events"} <= commands  # fmt: skip
    for command in commands:
        result = runner.invoke(args=["pledges", command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_the_files_it_points_at_are_in_the_checkout():
    for path in ("gunicorn.conf.py", "bin/setup", "tests/resilience/test_backup_restore.py"):
        assert (ROOT / path).exists(), path
