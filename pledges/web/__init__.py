"""Blueprints: thin views that parse, call a service and answer with a page or a fragment."""

from flask import Flask
from werkzeug.routing import IntegerConverter

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
    rendering,
    security,
    static_files,
    templating,
    unsubscribe,
    webhooks,
)


class DatabaseInteger(IntegerConverter):
    """An <int:…> in a path names a row (or a year): past PostgreSQL's integer it can name
    nothing, so the page is not found, rather than the database failing on it."""

    def __init__(self, *args: object, max: int = 2**31 - 1, **kwargs: object) -> None:  # noqa: A002
        super().__init__(*args, max=max, **kwargs)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseInteger  # before any rule is added
    security.init_app(app)
    app.after_request(rendering.keep_the_address)
    templating.init_app(app)
    static_files.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(pledge.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(member.bp)
    app.register_blueprint(organizer.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(demo.bp)
    app.register_blueprint(embed.bp)
    embed.init_app(app)
    app.register_blueprint(flyer.bp)
    app.register_blueprint(language.bp)
    api.init_app(app)
