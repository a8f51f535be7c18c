"""The home page."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select, text

from kb.articles.models import Article, article_industry
from kb.extensions import db
from kb.forum.queries import PostFilters, list_posts
from kb.taxonomy.models import Industry

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def index():
    """Show the newest briefs and signals and the industries that have briefs."""
    latest = db.session.scalars(
        select(Article)
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(10)
    ).all()
    industries = db.session.execute(
        select(Industry, func.count(article_industry.c.article_id))
        .join(article_industry, article_industry.c.industry_code == Industry.code)
        .group_by(Industry.code)
        .order_by(func.count(article_industry.c.article_id).desc(), Industry.code)
        .limit(24)
    ).all()
    total = db.session.scalar(select(func.count(Article.id)))
    signals = list_posts(db.session, current_user, PostFilters(), 6).posts
    return render_template(
        "main/index.html",
        latest=latest,
        industries=industries,
        total=total,
        signals=signals,
    )


@bp.route("/healthz")
def health():
    """Return 200 to a load balancer's health check while the database responds.

    It needs no session. When the database is away, the error handler returns
    503, so the load balancer stops sending requests to this host.
    """
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
