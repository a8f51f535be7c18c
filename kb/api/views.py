"""JSON API, version 1."""

from flask import Blueprint, g, jsonify, request

from kb.api.auth import api_login_required
from kb.errors import ValidationError
from kb.forum.access import search_acl
from kb.search.service import parse_query, run_search
from kb.timeutil import to_local

bp = Blueprint("api", __name__)


@bp.get("/search")
@api_login_required
def search():
    """Search briefs, posts and replies: ``{"total", "page", "results": [...]}``."""
    query = parse_query(request.args)
    if not (query.q.strip() or query.industry or query.tag):
        raise ValidationError(
            "Parameter q is missing or blank; give q, industry or tag.", field="q"
        )
    results = run_search(query, search_acl(g.api_user))
    items = []
    for hit in results.hits:
        items.append(
            {
                "id": hit.record_id,
                "type": hit.type,
                "title": hit.title,
                "url": hit.url,
                "snippet": hit.snippet,
                "score": round(hit.score, 4),
                "published_at": to_local(hit.published_at).isoformat()
                if hit.published_at
                else None,
            }
        )
    return jsonify(
        total=results.total,
        page=query.page,
        per_page=query.per_page,
        results=items,
    )
