"""JSON API, version 1."""

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from kb.api.auth import api_login_required
from kb.articles.models import Article
from kb.clients.models import client_article, client_post
from kb.clients.services import find_clients, get_by_code, record_access
from kb.errors import ValidationError
from kb.experts import services as expert_services
from kb.experts.evidence import RankedPerson, evidence_for, rank_people
from kb.extensions import db
from kb.forum.access import can_view_reply, search_acl, visible_posts
from kb.forum.models import Post
from kb.forum.queries import list_posts_by_page, parse_filters
from kb.forum.search import reply_titles
from kb.forum.services import get_visible_post
from kb.search.service import parse_query, positive_int, run_search
from kb.taxonomy.models import Industry
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


def _person_json(person) -> dict:
    """Render a RankedPerson from kb.experts.evidence."""
    user = person.user
    evidence = person.evidence
    return {
        "id": user.id,
        "name": user.display_name,
        "department": user.department.name,
        "url": f"/people/{user.id}",
        "industries": [
            {
                "code": item.industry_code,
                "name": item.industry.name,
                "level": item.level,
            }
            for item in person.industries
        ],
        "skills": [
            {"name": item.skill.name, "level": item.level} for item in person.skills
        ],
        "evidence": {
            "briefs": evidence.briefs,
            "accepted_answers": evidence.accepted_answers,
            "useful_signals": evidence.useful_signals,
            "useful_answers": evidence.useful_answers,
            "endorsements": evidence.endorsements,
            "score": evidence.score,
        },
    }


@bp.get("/people")
@api_login_required
def people():
    """Rank colleagues by evidence: ``{"people", "page", "per_page"}``.

    ``industry`` is an industry code, ``skill`` a skill name and ``q`` free
    text; all are optional and combine.
    """
    page = positive_int(request.args, "page", 1, 10_000)
    per_page = positive_int(request.args, "per_page", 20, 100)
    industry = request.args.get("industry", "").strip()
    if industry and db.session.get(Industry, industry) is None:
        raise ValidationError(
            f"industry={industry[:20]!r} is not a known industry code; "
            "use a GB/T 4754-2017 code such as 36 or C.",
            field="industry",
        )
    skill_name = request.args.get("skill", "").strip()
    skill = (
        expert_services.skill_by_name(db.session, skill_name) if skill_name else None
    )
    if skill_name and skill is None:
        raise ValidationError(
            f"skill={skill_name[:40]!r} is not a declared skill; "
            "search for it with q instead.",
            field="skill",
        )
    found = rank_people(
        db.session,
        industry_codes=[industry] if industry else [],
        skill_ids=[skill.id] if skill is not None else [],
        text=request.args.get("q", "")[:100],
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return jsonify(
        people=[_person_json(person) for person in found],
        page=page,
        per_page=per_page,
    )


@bp.get("/people/<int:user_id>")
@api_login_required
def person(user_id: int):
    """Return one active colleague's profile, evidence and recent work."""
    user = expert_services.get_person(db.session, user_id)
    profile = expert_services.get_profile(db.session, user)
    evidence = evidence_for(db.session, [user.id])[user.id]
    data = _person_json(
        RankedPerson(
            user=user,
            score=evidence.score,
            evidence=evidence,
            industries=expert_services.declared_industries(db.session, user.id),
            skills=expert_services.declared_skills(db.session, user.id),
        )
    )
    data["headline"] = profile.headline if profile is not None else ""
    data["bio_markdown"] = profile.bio_md if profile is not None else ""
    data["bio_html"] = profile.bio_html if profile is not None else ""
    data["recent"] = [
        {
            "type": item.kind,
            "id": item.record_id,
            "title": item.title,
            "at": _time(item.when),
        }
        for item in expert_services.recent_contributions(
            db.session, g.api_user, user, 10
        )
    ]
    return jsonify(data)
