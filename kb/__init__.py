"""kb: the bank's industry knowledge base and market-intelligence forum."""

import logging
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from kb.config import build_config

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the application: settings, extensions, search, blueprints, errors."""
    settings = build_config(config)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from kb import logs

    logs.configure(app)
    if app.config["KB_PROXY_HOPS"]:
        # Behind a load balancer the client's address and scheme arrive in
        # X-Forwarded-For and X-Forwarded-Proto; trust only that many hops.
        hops = app.config["KB_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    _init_extensions(app)
    _init_search(app)

    from kb.web import register_url_converters

    register_url_converters(app)
    _register_blueprints(app)

    from kb.errors import register_error_handlers
    from kb.web import register_web_hooks

    register_error_handlers(app)
    register_web_hooks(app)

    from kb.cli import register_commands

    register_commands(app)
    return app


def _init_extensions(app: Flask) -> None:
    from kb.auth.services import load_user_from_id
    from kb.extensions import babel, csrf, db, login_manager, migrate
    from kb.i18n import select_locale, select_timezone

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(
        app, locale_selector=select_locale, timezone_selector=select_timezone
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user_from_id)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from kb.dbutil import tune_sqlite

        with app.app_context():
            tune_sqlite(db.engine, app.config["KB_SQLITE_BUSY_SECONDS"])


def _init_search(app: Flask) -> None:
    from kb.search.service import init_search

    init_search(app)


def _register_blueprints(app: Flask) -> None:
    from kb.api.views import bp as api_bp
    from kb.articles.views import bp as articles_bp
    from kb.auth.views import bp as auth_bp
    from kb.clients.admin_views import bp as clients_admin_bp
    from kb.clients.views import bp as clients_bp
    from kb.experts.views import bp as people_bp
    from kb.forum.risk_views import bp as risk_bp
    from kb.forum.views import bp as forum_bp
    from kb.main.views import bp as main_bp
    from kb.notifications.views import bp as notifications_bp
    from kb.questions.views import bp as questions_bp
    from kb.search.views import bp as search_bp
    from kb.training.views import bp as training_bp
    from kb.users.views import bp as users_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(articles_bp, url_prefix="/briefs")
    app.register_blueprint(forum_bp, url_prefix="/forum")
    app.register_blueprint(risk_bp, url_prefix="/risk")
    app.register_blueprint(notifications_bp, url_prefix="/notifications")
    app.register_blueprint(clients_bp, url_prefix="/clients")
    app.register_blueprint(clients_admin_bp, url_prefix="/admin/clients")
    app.register_blueprint(people_bp, url_prefix="/people")
    app.register_blueprint(questions_bp, url_prefix="/questions")
    app.register_blueprint(training_bp, url_prefix="/training")
    app.register_blueprint(search_bp, url_prefix="/search")
    app.register_blueprint(users_bp, url_prefix="/admin/users")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
