"""The inbox and the subscriptions page."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)


@bp.route("/")
def inbox():
    return ""
