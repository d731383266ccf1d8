"""The flyer printed by a real Chromium: one page of the chosen size, whose QR code a phone
reads as the pledge page's address, and nothing fetched from anyone else."""

import io

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from tests.factories import make_case, make_pledge

#: Paper sizes in PostScript points (1/72 inch).
SIZES = {"a5": (419.5, 595.3), "a4": (595.3, 841.9)}


@pytest.fixture
def fund_with_cases(app):
    """As many open cases as the flyer lists, and one more, with the longest summaries a case
    may have (the flyer shortens them)."""
    with app.app_context():
        make_pledge(amount=25_00)
        for number in range(5):
            make_case(
                title=f"Legal defence for activist number {number} after an attack",
                summary=("Lawyers' fees for the trial and the appeal, and travel. " * 9)[:500],
            )


@pytest.mark.parametrize("size", ["a5", "a4"])
def test_the_flyer_prints_on_one_page_with_a_code_to_the_pledge_page(
    live_server, page, fund_with_cases, size
):
    page.goto(f"{live_server}/flyer?size={size}")

    pdf = PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True, print_background=True)))
    assert len(pdf.pages) == 1
    box = pdf.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(SIZES[size], abs=1)
    text = pdf.pages[0].extract_text()
    assert "Test Solidarity Fund" in text and "€25.00" in text
    assert "Paper size" not in text  # the screen's hints stay off the paper

    image = Image.open(io.BytesIO(page.locator("#qr svg").screenshot()))
    assert [code.text for code in zxingcpp.read_barcodes(image)] == [live_server + "/pledge"]

    assert [url for url in page.requested_urls if not url.startswith(live_server)] == []
    assert page.console_errors == []  # a CSP violation would be one
