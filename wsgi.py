"""Entry point for `gunicorn wsgi:app` and `flask --app wsgi ...`."""

import sys

from pledges import create_app
from pledges.config import ConfigError

try:
    app = create_app()
except ConfigError as refusal:  # one line an operator can act on, not a traceback
    sys.exit(f"{refusal}\n(`bin/flask pledges doctor` lists every check.)")
