"""The risk board, anonymous risk reports and their receipt pages."""

from flask import Blueprint

bp = Blueprint("risk", __name__)


@bp.route("/")
def board():
    return ""


@bp.route("/report")
def report():
    return ""
