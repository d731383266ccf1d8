"""Security headers on every response, and the helpers templates need for them."""

from collections.abc import Sequence

from flask import Flask, Response, current_app, g

STRIPE_HOSTED_PAGES = "https://checkout.stripe.com https://billing.stripe.com"


def content_security_policy(frame_ancestors: Sequence[str] = ()) -> str:
    """The policy of every page; only the pledge widget names `frame_ancestors` (see
    `allow_framing`), every other page may be framed by nobody."""
    # A plain form post to /pledge redirects to Stripe's hosted page; browsers apply
    # form-action to that redirect, so Stripe's pages are named when Stripe is on.
    form_action = "'self'"
    if current_app.config["PAYMENTS"] == "stripe":
        form_action += " " + STRIPE_HOSTED_PAGES
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {form_action}",
            "frame-ancestors " + (" ".join(frame_ancestors) or "'none'"),
        ]
    )


def allow_framing(origins: Sequence[str]) -> None:
    """Let these origins, and no other, show this request's page in a frame."""
    g.frame_ancestors = tuple(origins)


def add_security_headers(response: Response) -> Response:
    frame_ancestors = g.get("frame_ancestors", ())
    response.headers.setdefault("Content-Security-Policy", content_security_policy(frame_ancestors))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    # X-Frame-Options cannot name several origins, and a browser that knows frame-ancestors
    # ignores it: a page that some origins may frame goes without it rather than contradict them.
    if not frame_ancestors:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    # Pages carry a CSRF token bound to the visitor's session: no shared cache may keep them.
    response.headers.setdefault("Cache-Control", "private, no-cache")
    if current_app.config["PLEDGES_ENV"] == "production":
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
