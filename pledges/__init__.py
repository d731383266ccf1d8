"""Pledges: monthly pledges for a solidarity fund."""

import os
import sys
from collections.abc import Mapping
from typing import Any

from dotenv import load_dotenv
from flask import Flask
from sqlalchemy.exc import DBAPIError
from werkzeug.middleware.proxy_fix import ProxyFix

from pledges import config as settings
from pledges import logging_setup
from pledges.crypto import DataCipher
from pledges.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate
from pledges.i18n import select_locale

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _instance_path() -> str:
    return os.environ.get("PLEDGES_INSTANCE", os.path.join(PROJECT_ROOT, "instance"))


def load_config(test_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings the app runs with: from the environment (a `.env` file in development), or
    from `test_config`. gunicorn's master checks them too, before any worker starts."""
    instance = _instance_path()
    if test_config is None:
        load_dotenv(os.path.join(PROJECT_ROOT, ".env"))
        marked = os.path.exists(os.path.join(PROJECT_ROOT, settings.PRODUCTION_MARK))
        config = settings.from_environment(os.environ, instance, production_checkout=marked)
        settings.fill_development_secrets(config, instance)
    else:
        config = settings.from_environment({}, instance)
        config.update(test_config)
    config.update(settings.derived_settings(config))
    if test_config is not None:
        config.update(test_config)
    return config


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment (a `.env` file in development), or from `test_config`."""
    app = Flask(
        __name__,
        template_folder=os.path.join(PROJECT_ROOT, "templates"),
        static_folder=os.path.join(PROJECT_ROOT, "static"),
        instance_path=_instance_path(),
    )
    app.config.update(load_config(test_config))
    if not settings.doctor_requested(sys.argv):
        settings.check(app.config)
    logging_setup.init_app(app)
    os.makedirs(app.instance_path, exist_ok=True)

    if app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"], x_proto=1, x_host=1
        )

    app.extensions["pledges_cipher"] = DataCipher(app.config["PLEDGES_DATA_KEY"])
    _init_extensions(app)
    app.extensions["pledges_gateway"] = _make_gateway(app)

    from pledges import cli
    from pledges.web import register_blueprints

    register_blueprints(app)
    cli.register(app)
    return app


def _init_extensions(app: Flask) -> None:
    import pledges.models  # noqa: F401 - registers the models with the metadata
    from pledges.models.types import render_migration_type

    db.init_app(app)
    app.teardown_appcontext(_end_session)  # runs before Flask-SQLAlchemy's own (reverse order)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(PROJECT_ROOT, "migrations"),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_type,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    htmx.init_app(app)
    app.config.setdefault(
        "BABEL_TRANSLATION_DIRECTORIES", os.path.join(PROJECT_ROOT, "translations")
    )
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"


def _end_session(_error: BaseException | None) -> None:
    """End the request's session even when its connection died after the answer was made (the
    database restarting): the visitor has their page, and the pool drops the dead connection."""
    try:
        db.session.remove()
    except DBAPIError:
        db.session.registry().invalidate()
        db.session.registry.clear()


def _make_gateway(app: Flask):  # noqa: ANN202
    if app.config["PAYMENTS"] == "stripe":
        from pledges.payments.stripe_gateway import StripeGateway

        return StripeGateway(
            secret_key=app.config["STRIPE_SECRET_KEY"],
            webhook_secret=app.config["STRIPE_WEBHOOK_SECRET"],
            fund_name=app.config["FUND_NAME"],
            api_base=app.config["STRIPE_API_BASE"],
        )
    from pledges.payments.demo_gateway import DemoGateway

    return DemoGateway(app.config["SECRET_KEY"])
