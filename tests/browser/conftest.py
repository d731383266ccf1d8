import pytest
from playwright.sync_api import sync_playwright

from tests.live_server import serving
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


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def recording_tab(browser, **options):  # noqa: ANN001, ANN003, ANN201
    """A fresh phone-sized tab in its own browser context (its own cookies), recording every
    request and console complaint. The caller closes `tab.context`."""
    options = {"viewport": {"width": 390, "height": 844}, "locale": "en-GB", **options}
    context = browser.new_context(**options)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.requested_urls = []
    tab.console_errors = []
    tab.on("request", lambda request: tab.requested_urls.append(request.url))
    tab.on(
        "console",
        lambda message: (
            tab.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    return tab


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def config(config, port):
    return {**config, "BASE_URL": f"http://127.0.0.1:{port}"}


@pytest.fixture
def live_server(app, port):
    """The app over real HTTP on loopback, as gunicorn would serve it."""
    with serving(app, port) as base_url:
        yield base_url


@pytest.fixture
def page(browser, live_server):
    tab = recording_tab(browser)
    yield tab
    tab.context.close()


@pytest.fixture
def open_tab(browser, live_server):
    """Open more tabs, each a separate person, like `page`."""
    tabs = []

    def open_tab():  # noqa: ANN202
        tabs.append(recording_tab(browser))
        return tabs[-1]

    yield open_tab
    for tab in tabs:
        tab.context.close()
