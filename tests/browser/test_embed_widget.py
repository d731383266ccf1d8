"""The pledge widget in a real Chromium, framed the way a fund's webmaster frames it: the snippet
from docs/embed.md, pasted into a page served from another origin by the test itself."""

import re
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.factories import make_pledge
from tests.smtp_sink import free_port

DOC = Path(__file__).parents[2] / "docs" / "embed.md"
PLACEHOLDER = "https://give.example.org"


def snippet(base_url: str, theme: str = "light") -> str:
    """The snippet of docs/embed.md, with this test's Pledges address in it."""
    found = re.search(r"```html\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert found and PLACEHOLDER in found[1] and "theme=light" in found[1]
    return found[1].replace(PLACEHOLDER, base_url).replace("theme=light", f"theme={theme}")


class FundSite:
    """Another origin: a plain web server whose pages each hold one copy of the snippet."""

    def __init__(self, port: int) -> None:
        self.origin = f"http://127.0.0.1:{port}"
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                body = site.pages.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "").encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def page_with(self, path: str, widget: str) -> str:
        self.pages[path] = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Our fund</title>"
            "<link rel='icon' href='data:,'>"
            f"</head><body><h1>Our fund</h1>{widget}</body></html>"
        )
        return self.origin + path


@pytest.fixture
def fund_site_port():
    return free_port()


@pytest.fixture
def config(config, fund_site_port):
    return {
        **config,
        "EMBED_ALLOWED_ORIGINS": [f"http://127.0.0.1:{fund_site_port}"],
        "FUND_MONTHLY_GOAL": 100_00,
    }


@pytest.fixture
def fund_site(fund_site_port):
    """The fund's own site, which EMBED_ALLOWED_ORIGINS names."""
    site = FundSite(fund_site_port)
    site.thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture
def stranger_site():
    """A site EMBED_ALLOWED_ORIGINS does not name, trying the same snippet."""
    site = FundSite(free_port())
    site.thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_fund_site_shows_the_widget_and_its_button_opens_the_form(
    app, live_server, page, fund_site, tmp_path
):
    with app.app_context():
        make_pledge(amount=40_00)
        make_pledge(amount=25_50)
    requested = []  # by the fund's page, the widget in it and the tab its button opens
    page.context.on("request", lambda request: requested.append(request.url))
    backgrounds = {}

    for theme in ("light", "dark"):
        page.goto(fund_site.page_with(f"/{theme}", snippet(live_server, theme)))
        widget = page.frame_locator("iframe")
        expect(widget.get_by_text("Test Solidarity Fund")).to_be_visible()
        expect(widget.locator(".widget-total")).to_have_text("€65.50 pledged every month")
        expect(widget.get_by_text("by fewer than 3 supporters")).to_be_visible()
        expect(widget.get_by_label("Monthly goal: €100.00")).to_have_attribute("value", "6550")
        button = widget.get_by_role("link", name="Pledge monthly (opens in a new tab)")
        expect(button).to_be_visible()
        body = widget.locator("body")
        backgrounds[theme] = body.evaluate("body => getComputedStyle(body).backgroundColor")
        # The snippet's size holds the whole widget: nothing hides behind a scrollbar.
        assert body.evaluate("b => b.scrollHeight <= innerHeight && b.scrollWidth <= innerWidth")

        shot = tmp_path / f"widget-{theme}.png"
        frame = page.locator("iframe")
        frame.screenshot(path=shot)
        box = frame.bounding_box()
        width, height = png_size(shot)  # the frame, give or take a pixel it straddles
        assert abs(width - box["width"]) <= 1 and abs(height - box["height"]) <= 1
        assert box["width"] >= 320 and box["height"] >= 260  # the snippet's size, and a border
        assert shot.stat().st_size > 4_000, "an empty frame"

    # Each theme's colours come from our stylesheet, which the sandboxed frame loaded.
    assert backgrounds == {"light": "rgb(255, 255, 255)", "dark": "rgb(20, 24, 29)"}
    assert (tmp_path / "widget-light.png").read_bytes() != (
        tmp_path / "widget-dark.png"
    ).read_bytes()

    with page.context.expect_page() as opened:
        button.click()
    form = opened.value
    expect(form).to_have_url(live_server + "/pledge")
    expect(form.get_by_role("button", name="Continue to payment")).to_be_visible()
    assert form.evaluate("window.opener") is None

    origins = {urlsplit(url)._replace(path="", query="").geturl() for url in requested}
    assert origins == {fund_site.origin, live_server}, "a request went to a third party"
    # When the new tab opens, Playwright looks into every frame with script of its own, which
    # the sandbox refuses (the widget has none: with allow-scripts no error shows at all).
    sandboxed = "because the document's frame is sandboxed and the 'allow-scripts' permission"
    assert [error for error in page.console_errors if sandboxed not in error] == []


def test_a_site_not_listed_gets_no_widget(live_server, page, stranger_site):
    page.goto(stranger_site.page_with("/", snippet(live_server)))
    page.wait_for_load_state("load")

    expect(page.get_by_role("heading", name="Our fund")).to_be_visible()
    frame = page.frame_locator("iframe")
    expect(frame.get_by_text("pledged every month")).to_have_count(0)
    expect(frame.get_by_role("link", name=re.compile("Pledge monthly"))).to_have_count(0)
    assert any("frame-ancestors" in error for error in page.console_errors), page.console_errors
