"""Questions to experts: asking, answering, accepting, the expert queue."""

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("questions", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("questions/index.html")
