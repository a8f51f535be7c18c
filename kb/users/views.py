"""Account administration: administrators list and create accounts."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from kb.auth import services
from kb.auth.models import Department, User
from kb.errors import KbError
from kb.extensions import db, form_checks_csrf
from kb.users.forms import UserForm

bp = Blueprint("users", __name__)


@bp.before_request
@login_required
def require_admin():
    """Only administrators manage accounts."""
    if not current_user.is_admin:
        abort(403)


@bp.route("/", methods=["GET", "POST"])
@form_checks_csrf
def index():
    """List accounts and create a new one."""
    form = UserForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.create_user(
                db.session,
                form.username.data or "",
                form.password.data or "",
                form.role.data,
                form.department.data or "",
                form.display_name.data,
                email=form.email.data or "",
            )
        except KbError as error:
            db.session.rollback()
            getattr(form, error.field or "username").errors.append(error.message)
            status = 400
        else:
            db.session.commit()
            flash(_("已创建账户 %(name)s。", name=user.username), "success")
            return redirect(url_for("users.index"))
    elif request.method == "POST":
        status = 400
    users = db.session.scalars(
        select(User).join(Department).order_by(Department.name, User.username)
    ).all()
    departments = db.session.scalars(
        select(Department.name).order_by(Department.name)
    ).all()
    return render_template(
        "users/index.html", form=form, users=users, departments=departments
    ), status
