"""Forum pages: lists, posts, replies, marks and moderation."""

from flask import Blueprint

bp = Blueprint("forum", __name__)


@bp.route("/")
def index():
    return ""
