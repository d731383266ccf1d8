"""The app served over real HTTP on loopback, for tests that need a real client (a browser,
curl)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server


@contextmanager
def serving(app: Flask, port: int) -> Iterator[str]:
    """Serve `app` on `port` while the block runs; yields its BASE_URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app.config["BASE_URL"]
    finally:
        server.shutdown()
        thread.join()
