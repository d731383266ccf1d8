"""Entry point for `gunicorn wsgi:app` and `flask --app wsgi ...`."""

import sys

from pledges import create_app
from pledges.config import ConfigError

#: gunicorn's exit status for a worker that cannot boot: its master then stops, rather than
#: starting the worker again and again (where its own check did not run first: a reload, say).
WORKER_BOOT_ERROR = 3

try:
    app = create_app()
except ConfigError as refusal:  # one line an operator can act on, not a traceback
    print(f"{refusal}\n(`bin/flask pledges doctor` lists every check.)", file=sys.stderr)
    sys.exit(WORKER_BOOT_ERROR)
