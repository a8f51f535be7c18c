"""The search page."""

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from kb.errors import ValidationError
from kb.extensions import db
from kb.forum.access import search_acl
from kb.forum.search import reply_titles
from kb.search.service import SearchQuery, parse_query, run_search
from kb.taxonomy.models import Industry

bp = Blueprint("search", __name__)


@bp.route("/")
@login_required
def search():
    """Search briefs, posts and replies; bad parameters are shown, never a 500."""
    error = None
    try:
        query = parse_query(request.args)
    except ValidationError as exc:
        error = exc.message
        query = SearchQuery(q=(request.args.get("q") or "")[:1000])
    wanted = query.q.strip() or query.industry or query.tag or query.type
    results = run_search(query, search_acl(current_user)) if wanted else None
    titles = reply_titles(
        db.session,
        [hit.record_id for hit in results.hits if hit.type == "reply"]
        if results
        else [],
    )
    industries = db.session.scalars(
        select(Industry).where(Industry.level == "division").order_by(Industry.code)
    ).all()
    status = 400 if error else 200
    return (
        render_template(
            "search/results.html",
            query=query,
            results=results,
            error=error,
            industries=industries,
            reply_titles=titles,
        ),
        status,
    )
