"""docs/deploy.md is followed by operators word for word: what it names must exist."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from pledges.payments.stripe_events import HANDLERS
from pledges.settings_file import problems

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
#: Settings the environment would give first (it wins over the file).
OURS = ("PLEDGES_", "FUND_", "MAIL_", "DATABASE_URL", "SECRET_KEY")


def test_the_webhook_events_to_enable_are_exactly_those_we_handle():
    section = DEPLOY.split("## 8. Stripe", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", section))
    assert named == set(HANDLERS)


def test_every_command_it_runs_exists(runner):
    commands = set(re.findall(r"(?:flask --app wsgi|bin/flask) pledges ([a-z-]+)", DEPLOY))
    assert {"doctor", "send-reminders", "sync-stripe", "ledger-check", "invite-organizer",
            "deliver-mail", "handle-stripe-events"} <= commands  # fmt: skip
    for command in commands:
        result = runner.invoke(args=["pledges", command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_the_files_it_points_at_are_in_the_checkout():
    for path in ("gunicorn.conf.py", "bin/setup", "bin/flask",
                 "tests/resilience/test_backup_restore.py"):  # fmt: skip
        assert (ROOT / path).exists(), path


def test_bin_flask_reads_the_settings_file_as_systemd_does(tmp_path):
    """Values with spaces, quotes or a $ stay as written (a shell sourcing the file broke
    them), and a file the user may not read is said so, not ignored."""
    settings = tmp_path / "pledges.env"
    settings.write_text(
        "# the fund\nFUND_NAME='Kyiv Mutual Aid'\nMAIL_PASSWORD='pa$$w#rd \"x\"'\n"
        f"DATABASE_URL=sqlite:///{tmp_path / 'fund.db'}\n"
    )
    shown = subprocess.run(
        [str(ROOT / "bin" / "flask"), "shell"],
        input='print(app.config["FUND_NAME"], "|", app.config["MAIL_PASSWORD"])\n',
        env={**{k: v for k, v in os.environ.items() if not k.startswith(OURS)},
             "PLEDGES_ENV_FILE": str(settings)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert 'Kyiv Mutual Aid | pa$$w#rd "x"' in shown.stdout, shown.stderr


def test_bin_flask_refuses_a_line_systemd_would_read_differently(tmp_path):
    """A backslash, or an unquoted space: a command by hand would use another value (another
    password, another data key) than the services."""
    settings = tmp_path / "pledges.env"
    settings.write_text(
        f"DATABASE_URL=sqlite:///{tmp_path / 'fund.db'}\nMAIL_PASSWORD='pa\\ss'\n"
        "FUND_NAME=Solidarity #1\n"
    )
    result = subprocess.run(
        [str(ROOT / "bin" / "flask"), "pledges", "doctor"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith(OURS)},
             "PLEDGES_ENV_FILE": str(settings)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{settings}: line 2: MAIL_PASSWORD has a backslash or ${{, which systemd and bin/flask "
        "read differently: choose a value without",
        f"{settings}: line 3: FUND_NAME needs single quotes around its value",
    ]
    assert "pa\\ss" not in result.stderr  # a value may be a secret: only its name is said


@pytest.mark.parametrize(
    "line",
    [
        "PLAIN=abc-1.2_x:y/z@h?q=1&r",
        "QUOTED='a b $c #d \"e\"'",
        "EMPTY=",
        "# comment",
        "  ",
        "B64=ab+c/d==",
        'DOUBLE="Workers\' Fund $1"',
        "CRLF='a b'\r",
    ],  # fmt: skip
)
def test_values_both_read_alike_pass(line):
    assert problems(line) == []


@pytest.mark.parametrize(
    "line",
    [
        "A=a b",
        "A=$HOME",
        "A='a\\b'",
        "A='it's'",
        "A='open",
        "export A=1",
        "A = 1",
        "A='pa${HOME}ss'",
        'A="x${Y}"',
        "A=abc\u00a0",
        "# a comment \\",
    ],  # fmt: skip
)
def test_values_read_differently_are_named(line):
    assert len(problems(line)) == 1


def test_the_nginx_site_keeps_no_request_log_and_adds_no_security_header():
    """The app sends its headers (two HSTS headers: browsers take the first), and sign-in
    paths carry tokens, which nginx's logs would keep."""
    site = DEPLOY.split("`/etc/nginx/sites-available/pledges`", 1)[1].split("```nginx", 1)[1]
    site = site.split("```", 1)[0]
    assert site.count("server {") == 2 and site.count("access_log off;") == 2
    assert "Strict-Transport-Security" not in site
    assert "error_log /var/log/nginx/error.log crit;" in site
    assert "expires" not in site  # with add_header Cache-Control, a second Cache-Control header
