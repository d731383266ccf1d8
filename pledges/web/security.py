"""Security headers on every response, and the helpers templates need for them."""

from flask import Flask, Response, current_app

STRIPE_HOSTED_PAGES = "https://checkout.stripe.com https://billing.stripe.com"


def content_security_policy() -> str:
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
            "frame-ancestors 'none'",
        ]
    )


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
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
