"""QR codes drawn on our server as inline SVG: no third party learns who looks at one. segno
writes presentation attributes only (no `style=`), which the strict CSP allows."""

import segno
from markupsafe import Markup


def qr_svg(data: str, *, scale: int, title: str | None = None, sized: bool = True) -> Markup:
    """`sized=False` leaves the size to the stylesheet (print)."""
    svg = segno.make(data, error="m").svg_inline(
        scale=scale, omitsize=not sized, dark="#000", light="#fff", title=title
    )
    return Markup(svg)  # noqa: S704 - segno's own markup around data we chose
