"""Blueprints: thin views that parse, call a service and answer with a page or a fragment."""

from flask import Flask

from pledges.web import (
    api,
    auth,
    demo,
    embed,
    flyer,
    language,
    member,
    organizer,
    pledge,
    public,
    security,
    templating,
    unsubscribe,
    webhooks,
)


def register_blueprints(app: Flask) -> None:
    security.init_app(app)
    templating.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(pledge.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(member.bp)
    app.register_blueprint(organizer.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(demo.bp)
    app.register_blueprint(embed.bp)
    app.register_blueprint(flyer.bp)
    app.register_blueprint(language.bp)
    api.init_app(app)
