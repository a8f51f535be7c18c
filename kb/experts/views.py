"""People directory and expertise profiles."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("people", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("people/index.html")
