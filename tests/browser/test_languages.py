"""The language switcher in a real Chromium with JavaScript off: a plain form that works
anywhere, and a choice that outlives the browser's own language."""

from tests.browser.conftest import recording_tab


def test_switching_language_without_javascript(browser, live_server):
    tab = recording_tab(browser, java_script_enabled=False, locale="uk-UA")
    try:
        tab.goto(f"{live_server}/pledge")
        assert tab.locator("html").get_attribute("lang") == "uk"  # the browser's language

        tab.get_by_role("button", name="Deutsch").click()

        tab.wait_for_url(f"{live_server}/pledge")
        assert tab.locator("html").get_attribute("lang") == "de"
        assert tab.get_by_role("button", name="Weiter zur Zahlung").is_visible()
        assert tab.get_by_role("button", name="Deutsch").get_attribute("aria-pressed") == "true"
        # The choice is kept on the next page, whatever the browser asks for.
        tab.goto(f"{live_server}/login")
        assert tab.locator("html").get_attribute("lang") == "de"
        assert all(url.startswith(live_server) for url in tab.requested_urls)
    finally:
        tab.context.close()
