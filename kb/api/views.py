"""JSON API, version 1."""

from flask import Blueprint, g, jsonify, request

from kb.api.auth import api_login_required
from kb.errors import ValidationError
from kb.extensions import db
from kb.forum.access import can_view_reply, search_acl
from kb.forum.queries import list_posts_by_page, parse_filters
from kb.forum.search import reply_titles
from kb.forum.services import get_visible_post
from kb.search.service import parse_query, positive_int, run_search
from kb.timeutil import to_local

bp = Blueprint("api", __name__)


@bp.get("/search")
@api_login_required
def search():
    """Search briefs, posts and replies: ``{"total", "page", "results": [...]}``."""
    query = parse_query(request.args)
    if not (query.q.strip() or query.industry or query.tag or query.type):
        raise ValidationError(
            "Parameter q is missing or blank; give q, industry, tag or type.",
            field="q",
        )
    results = run_search(query, search_acl(g.api_user))
    titles = reply_titles(
        db.session, [hit.record_id for hit in results.hits if hit.type == "reply"]
    )
    items = []
    for hit in results.hits:
        items.append(
            {
                "id": hit.record_id,
                "type": hit.type,
                "title": titles.get(hit.record_id, hit.title)
                if hit.type == "reply"
                else hit.title,
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


def _time(value):
    return to_local(value).isoformat() if value is not None else None


def _author(user, department) -> dict | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "name": user.display_name,
        "department": department.name if department is not None else None,
    }


def _post_json(post) -> dict:
    data = {
        "id": post.id,
        "type": "post",
        "signal_type": post.signal_type,
        "title": post.title,
        "url": f"/forum/{post.id}",
        "visibility": post.visibility,
        "anonymous": post.anonymous,
        "author": None
        if post.anonymous
        else _author(post.author, post.author_department),
        "industries": [
            {"code": industry.code, "name": industry.name}
            for industry in post.industries
        ],
        "tags": [tag.name for tag in post.tags],
        "reply_count": post.reply_count,
        "view_count": post.view_count,
        "useful_count": post.useful_count,
        "created_at": _time(post.created_at),
        "updated_at": _time(post.updated_at),
    }
    if post.is_risk:
        data["risk"] = {
            "severity": post.severity,
            "status": post.status,
            "outcome_note": post.outcome_note,
            "closed_at": _time(post.closed_at),
        }
    return data


@bp.get("/posts")
@api_login_required
def posts():
    """Visible posts, newest first: ``{"total", "page", "per_page", "posts"}``."""
    filters = parse_filters(request.args)
    page = positive_int(request.args, "page", 1, 10_000)
    per_page = positive_int(request.args, "per_page", 20, 100)
    items, total = list_posts_by_page(db.session, g.api_user, filters, page, per_page)
    return jsonify(
        total=total,
        page=page,
        per_page=per_page,
        posts=[_post_json(post) for post in items],
    )


@bp.get("/posts/<int:post_id>")
@api_login_required
def post(post_id: int):
    """One visible post with its visible replies; 404 for anything else."""
    item = get_visible_post(db.session, g.api_user, post_id)
    data = _post_json(item)
    data["body_markdown"] = item.body_md
    data["body_html"] = item.body_html
    data["replies"] = [
        {
            "id": reply.id,
            "type": "reply",
            "author": None
            if reply.author is None
            else _author(reply.author, reply.author.department),
            "from_reporter": reply.from_reporter,
            "quote_of": reply.quote_of_id,
            "body_markdown": reply.body_md,
            "body_html": reply.body_html,
            "useful_count": reply.useful_count,
            "created_at": _time(reply.created_at),
            "updated_at": _time(reply.updated_at),
        }
        for reply in item.replies
        if can_view_reply(g.api_user, reply)
    ]
    return jsonify(data)
