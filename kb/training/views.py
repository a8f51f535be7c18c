"""Courses, lessons, attachments, lectures and learning records."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("training", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("training/index.html")
