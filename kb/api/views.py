"""JSON API, version 1."""

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from kb.api.auth import api_login_required
from kb.articles.models import Article
from kb.clients.models import client_article, client_post
from kb.clients.services import find_clients, get_by_code, record_access
from kb.errors import ValidationError
from kb.extensions import db
from kb.forum.access import can_view_reply, search_acl, visible_posts
from kb.forum.models import Post
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
    filters = parse_filters(request.args, db.session)
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
    """Return one visible post with its visible replies; 404 for anything else."""
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


# services.find_clients ranks at most this many matches.
CLIENT_SEARCH_MAX = 200


def _client_json(client) -> dict:
    industry = client.industry
    manager = client.manager
    return {
        "id": client.id,
        "name": client.name,
        "credit_code": client.credit_code,
        "industry": {"code": industry.code, "name": industry.name}
        if industry is not None
        else None,
        "manager": {"id": manager.id, "name": manager.display_name}
        if manager is not None
        else None,
        "branch": client.branch,
        "segment": client.segment,
        "status": client.status,
        "url": f"/clients/{client.credit_code}",
    }


@bp.get("/clients")
@api_login_required
def clients():
    """Search clients by name, pinyin initials or credit code; best matches first."""
    q = request.args.get("q", "")
    if not q.strip():
        raise ValidationError(
            "Parameter q is missing or blank; give a client name, its pinyin "
            "initials or a credit code prefix.",
            field="q",
        )
    page = positive_int(request.args, "page", 1, 10_000)
    per_page = positive_int(request.args, "per_page", 20, 100)
    matches = find_clients(db.session, q, CLIENT_SEARCH_MAX)
    start = (page - 1) * per_page
    return jsonify(
        total=len(matches),
        page=page,
        per_page=per_page,
        clients=[_client_json(item) for item in matches[start : start + per_page]],
    )


@bp.get("/clients/<credit_code>")
@api_login_required
def client_record(credit_code: str):
    """Return a client with the linked posts the caller may see and linked briefs.

    Every call writes a row of the client access log (channel "api").
    """
    item = get_by_code(db.session, credit_code)
    user = g.api_user
    data = _client_json(item)
    data["products"] = item.product_list
    data["notes"] = item.notes
    data["created_at"] = _time(item.created_at)
    data["updated_at"] = _time(item.updated_at)
    data["post_ids"] = list(
        db.session.scalars(
            select(Post.id)
            .join(client_post, client_post.c.post_id == Post.id)
            .where(client_post.c.client_id == item.id, visible_posts(user))
            .order_by(Post.id)
        )
    )
    data["article_ids"] = list(
        db.session.scalars(
            select(Article.id)
            .join(client_article, client_article.c.article_id == Article.id)
            .where(client_article.c.client_id == item.id)
            .order_by(Article.id)
        )
    )
    record_access(db.session, user, item, channel="api")
    db.session.commit()
    return jsonify(data)
