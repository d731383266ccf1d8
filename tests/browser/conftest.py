import threading

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from tests.smtp_sink import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def config(config, port):
    return {**config, "BASE_URL": f"http://127.0.0.1:{port}"}


@pytest.fixture
def live_server(app, port):
    """The app served over real HTTP on loopback, as gunicorn would serve it."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app.config["BASE_URL"]
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh phone-sized browser tab that records every request and console complaint."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.requested_urls = []
    page.console_errors = []
    page.on("request", lambda request: page.requested_urls.append(request.url))
    page.on(
        "console",
        lambda message: (
            page.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    yield page
    context.close()
