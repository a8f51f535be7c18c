"""Sign-in, sign-out and the language switch."""

import secrets

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from kb.auth import services
from kb.auth.forms import LoginForm
from kb.errors import RateLimited, ValidationError
from kb.extensions import db, form_checks_csrf

bp = Blueprint("auth", __name__)


def _next_target(raw: str | None) -> str:
    return raw if services.is_safe_next(raw) else url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
@form_checks_csrf
def login():
    """Show the sign-in form and sign the user in."""
    if current_user.is_authenticated:
        return redirect(_next_target(request.args.get("next")))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    headers = {}
    if form.validate_on_submit():
        address = request.remote_addr or "unknown"
        try:
            # The attempt is counted and committed first. The password check
            # costs an argon2 hash, so it runs in a read transaction: on SQLite
            # a writing transaction holds the database's write lock
            # (kb.dbutil), and every other writer would wait for the hash.
            services.begin_sign_in(
                db.session, form.username.data, address, current_app.config
            )
            db.session.commit()
            g.kb_writes = False
            user = services.check_credentials(
                db.session, form.username.data, form.password.data
            )
            db.session.rollback()
            g.kb_writes = True
            user = services.record_sign_in(
                db.session, form.username.data, user, form.password.data
            )
        except RateLimited as error:
            db.session.commit()
            form.password.errors.append(str(error.message))
            status = 429
            headers["Retry-After"] = str(error.retry_after)
        except ValidationError as error:
            db.session.commit()
            form.password.errors.append(str(error.message))
            status = 400
        else:
            locale = session.get("locale")
            session.clear()
            session["sid"] = secrets.token_urlsafe(16)
            if locale:
                session["locale"] = locale
            login_user(user, remember=form.remember.data)
            db.session.commit()
            return redirect(_next_target(form.next.data))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out here and invalidate remember-me cookies everywhere."""
    services.sign_out_everywhere(current_user)
    db.session.commit()
    session.clear()
    # After clearing: Flask-Login marks the remember-me cookie for deletion.
    logout_user()
    flash(_("已退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language for this user or browser session."""
    locale = request.form.get("locale", "")
    if locale not in current_app.config["LANGUAGES"]:
        flash(_("不支持该语言：%(locale)s", locale=locale), "warning")
    else:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(_next_target(request.form.get("next")))
