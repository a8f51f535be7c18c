"""Client pages: the client list and search, and the one-page visit briefing.

The briefing shows only what the reader may see: posts and replies pass
through ``kb.forum.access``, and nothing counts or hints at the rest.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, func, literal, select, union_all
from sqlalchemy.orm import Session, selectinload

from kb.articles.models import Article
from kb.auth.models import User
from kb.clients import services
from kb.clients.forms import DeleteClientForm, MergeClientForm
from kb.clients.models import CLIENT_STATUSES, Client, client_article, client_post
from kb.extensions import db
from kb.forum import access
from kb.forum.models import Post, Reply
from kb.taxonomy.models import Industry
from kb.timeutil import utcnow

bp = Blueprint("clients", __name__)

# Beyond this, list pages would ask the database for offsets it cannot store.
MAX_LIST_PAGE = 10_000
# services.find_clients ranks at most this many name, pinyin and code matches.
SEARCH_MAX = 200
TIMELINE_MAX = 100
INDUSTRY_BRIEFS_MAX = 10
LINKED_BRIEFS_MAX = 50
COLLEAGUES_MAX = 8

SEVERITY_RANK = case({"high": 0, "medium": 1, "low": 2}, value=Post.severity, else_=3)


@bp.before_request
@login_required
def require_login():
    """Require sign-in for every client page."""


@bp.app_context_processor
def inject_client_labels():
    """Display names of client statuses, for any page that shows a client."""
    return {"client_status_labels": services.STATUS_LABELS}


# The client list


@dataclass
class ListFilters:
    """The query arguments of the client list, as typed."""

    q: str = ""
    industry: str = ""
    status: str = ""
    manager: str = ""

    def args(self) -> dict[str, str]:
        """Return the non-empty filters as query arguments for the pager."""
        values = {
            "q": self.q,
            "industry": self.industry,
            "status": self.status,
            "manager": self.manager,
        }
        return {key: value for key, value in values.items() if value}


@dataclass
class ClientPage:
    items: list[Client]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return -(-self.total // self.per_page)


def _read_list_filters(args) -> tuple[ListFilters, dict[str, str]]:
    """Read the list's query arguments; return them and a message per invalid one."""
    filters = ListFilters(
        q=args.get("q", "").strip()[:100],
        industry=args.get("industry", "").strip().upper()[:20],
        status=args.get("status", "").strip()[:20],
        manager=args.get("manager", "").strip()[:20],
    )
    errors = {}
    if filters.industry and (
        len(filters.industry) > 2 or db.session.get(Industry, filters.industry) is None
    ):
        errors["industry"] = _("未知的行业代码：%(codes)s。", codes=filters.industry)
    if filters.status and filters.status not in CLIENT_STATUSES:
        errors["status"] = _(
            "参数 status=%(value)s 无效，可选：active（正常）、at_risk（有流失风险）、"
            "lost（已流失）。",
            value=repr(filters.status),
        )
    if filters.manager and filters.manager != "me":
        errors["manager"] = _(
            "参数 manager 的值 %(value)s 无效：只能为 me（我负责的客户）或留空。",
            value=repr(filters.manager),
        )
    return filters, errors


def _list_conditions(filters: ListFilters, user: User) -> list:
    conditions = []
    if filters.industry:
        conditions.append(
            Client.industry.has(
                (Industry.code == filters.industry)
                | (Industry.section_code == filters.industry)
            )
        )
    if filters.status:
        conditions.append(Client.status == filters.status)
    if filters.manager == "me":
        conditions.append(Client.manager_id == user.id)
    return conditions


def _list_clients(
    session: Session, filters: ListFilters, user: User, page: int, per_page: int
) -> ClientPage:
    """Return one page of clients: ranked matches for ``q``, else all by name."""
    conditions = _list_conditions(filters, user)
    loaders = (
        selectinload(Client.industry),
        selectinload(Client.manager).selectinload(User.department),
    )
    start = (page - 1) * per_page
    if filters.q:
        ranked = [c.id for c in services.find_clients(session, filters.q, SEARCH_MAX)]
        allowed_ids = set(
            session.scalars(select(Client.id).where(Client.id.in_(ranked), *conditions))
        )
        ids = [client_id for client_id in ranked if client_id in allowed_ids]
        page_ids = ids[start : start + per_page]
        rows = {
            client.id: client
            for client in session.scalars(
                select(Client).where(Client.id.in_(page_ids)).options(*loaders)
            )
        }
        return ClientPage([rows[i] for i in page_ids], page, per_page, len(ids))
    total = session.scalar(select(func.count(Client.id)).where(*conditions)) or 0
    items = session.scalars(
        select(Client)
        .where(*conditions)
        .options(*loaders)
        .order_by(Client.name, Client.id)
        .offset(start)
        .limit(per_page)
    ).all()
    return ClientPage(list(items), page, per_page, total)


@bp.route("/")
def index():
    """Search clients by name, pinyin or credit code; filter; list by name."""
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_LIST_PAGE)
    filters, errors = _read_list_filters(request.args)
    result = None
    if not errors:
        result = _list_clients(
            db.session,
            filters,
            current_user,
            page,
            current_app.config["KB_PER_PAGE"],
        )
    sections = db.session.scalars(select(Industry).order_by(Industry.code)).all()
    return (
        render_template(
            "clients/index.html",
            filters=filters,
            errors=errors,
            result=result,
            industries=_industry_options(sections),
            search_max=SEARCH_MAX,
        ),
        400 if errors else 200,
    )


def _industry_options(rows: list[Industry]) -> list[Industry]:
    """Sections each followed by their divisions, for the industry filter."""
    divisions: dict[str, list[Industry]] = {}
    for row in rows:
        if row.level == "division":
            divisions.setdefault(row.section_code or "", []).append(row)
    options = []
    for row in rows:
        if row.level == "section":
            options.append(row)
            options.extend(divisions.get(row.code, []))
    return options


# The visit briefing


@dataclass(frozen=True)
class TimelineEntry:
    """A linked post, or a reply under one, as one line of the timeline."""

    post: Post
    reply: Reply | None
    created_at: datetime

    @property
    def excerpt(self) -> str:
        """The first non-empty line of the reply, without Markdown markers."""
        if self.reply is None:
            return ""
        for line in self.reply.body_md.splitlines():
            text = line.strip().lstrip("#>*-+ ").strip()
            if text:
                return text
        return ""


@dataclass(frozen=True)
class Colleague:
    user: User
    briefs: int
    posts: int

    @property
    def total(self) -> int:
        return self.briefs + self.posts


@dataclass
class Briefing:
    """Everything the briefing page shows besides the client's own fields."""

    risks: list[Post]
    timeline: list[TimelineEntry]
    timeline_truncated: bool
    linked_briefs: list[Article]
    industry_briefs: list[Article]
    colleagues: list[Colleague]


def _linked_posts(client: Client, user: User):
    """Build a query of the posts linked to ``client`` that ``user`` may see."""
    return (
        select(Post)
        .join(client_post, client_post.c.post_id == Post.id)
        .where(client_post.c.client_id == client.id, access.visible_posts(user))
    )


def open_risks(session: Session, client: Client, user: User) -> list[Post]:
    """Return the visible open risk signals on ``client``: high first, then oldest."""
    query = (
        _linked_posts(client, user)
        .where(
            Post.signal_type == "risk",
            func.coalesce(Post.status, "open") != "closed",
        )
        .order_by(SEVERITY_RANK, Post.created_at, Post.id)
    )
    return list(session.scalars(query))


def timeline(
    session: Session, client: Client, user: User, limit: int = TIMELINE_MAX
) -> tuple[list[TimelineEntry], bool]:
    """Return the linked posts and replies that ``user`` may see, newest first.

    Returns at most ``limit`` entries and whether more visible ones exist.
    """
    posts = session.scalars(
        _linked_posts(client, user)
        .options(selectinload(Post.author), selectinload(Post.author_department))
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(limit + 1)
    ).all()
    replies = session.scalars(
        select(Reply)
        .join(Post, Reply.post_id == Post.id)
        .join(client_post, client_post.c.post_id == Post.id)
        .where(client_post.c.client_id == client.id, access.visible_replies(user))
        .options(selectinload(Reply.post), selectinload(Reply.author))
        .order_by(Reply.created_at.desc(), Reply.id.desc())
        .limit(limit + 1)
    ).all()
    entries = [TimelineEntry(post, None, post.created_at) for post in posts]
    entries += [TimelineEntry(reply.post, reply, reply.created_at) for reply in replies]
    # A reply written in the same second as its post still sorts after it.
    entries.sort(
        key=lambda entry: (
            entry.created_at,
            entry.reply is not None,
            entry.reply.id if entry.reply is not None else entry.post.id,
        ),
        reverse=True,
    )
    return entries[:limit], len(entries) > limit


def briefs(session: Session, client: Client) -> tuple[list[Article], list[Article]]:
    """Return the briefs linked to ``client``, and up to ten others on its industry.

    Both lists are ordered most useful first, then newest.
    """
    order = (
        Article.useful_count.desc(),
        Article.published_at.desc(),
        Article.id.desc(),
    )
    linked = session.scalars(
        select(Article)
        .join(client_article, client_article.c.article_id == Article.id)
        .where(client_article.c.client_id == client.id)
        .order_by(*order)
        .limit(LINKED_BRIEFS_MAX)
    ).all()
    industry = []
    if client.industry_code:
        industry = session.scalars(
            select(Article)
            .where(
                Article.industries.any(Industry.code == client.industry_code),
                Article.id.not_in([article.id for article in linked]),
            )
            .order_by(*order)
            .limit(INDUSTRY_BRIEFS_MAX)
        ).all()
    return list(linked), list(industry)


def colleagues(
    session: Session, industry_code: str | None, user: User
) -> list[Colleague]:
    """Rank active colleagues by their briefs and signed posts on the industry.

    Only posts ``user`` may see count, and never anonymous or hidden ones.
    """
    if not industry_code:
        return []
    brief_rows = select(
        Article.author_id.label("user_id"),
        literal(1).label("brief"),
        literal(0).label("post"),
    ).where(
        Article.author_id.is_not(None),
        Article.industries.any(Industry.code == industry_code),
    )
    post_rows = select(
        Post.author_id.label("user_id"),
        literal(0).label("brief"),
        literal(1).label("post"),
    ).where(
        Post.author_id.is_not(None),
        Post.anonymous.is_(False),
        Post.hidden.is_(False),
        Post.industries.any(Industry.code == industry_code),
        access.visible_posts(user),
    )
    rows = union_all(brief_rows, post_rows).subquery()
    brief_count = func.sum(rows.c.brief)
    post_count = func.sum(rows.c.post)
    query = (
        select(User, brief_count, post_count)
        .join(rows, rows.c.user_id == User.id)
        .where(User.active.is_(True))
        .options(selectinload(User.department))
        .group_by(User.id)
        .order_by((brief_count + post_count).desc(), User.display_name, User.id)
        .limit(COLLEAGUES_MAX)
    )
    return [
        Colleague(person, int(n_briefs), int(n_posts))
        for person, n_briefs, n_posts in session.execute(query)
    ]


def build_briefing(session: Session, client: Client, user: User) -> Briefing:
    entries, truncated = timeline(session, client, user)
    linked, industry = briefs(session, client)
    return Briefing(
        risks=open_risks(session, client, user),
        timeline=entries,
        timeline_truncated=truncated,
        linked_briefs=linked,
        industry_briefs=industry,
        colleagues=colleagues(session, client.industry_code, user),
    )


@bp.route("/<credit_code>")
def show(credit_code: str):
    """Show the visit briefing: facts, open risks, timeline, briefs, colleagues."""
    client = services.get_by_code(db.session, credit_code)
    if client.credit_code != credit_code:
        print_args = {"print": request.args["print"]} if "print" in request.args else {}
        target = url_for("clients.show", credit_code=client.credit_code, **print_args)
        return redirect(target, 301)
    user = current_user._get_current_object()
    now = utcnow()
    html = render_template(
        "clients/show.html",
        client=client,
        briefing=build_briefing(db.session, client, user),
        now=now,
        printing=request.args.get("print") == "1",
        merge_form=MergeClientForm() if user.is_admin else None,
        delete_form=DeleteClientForm() if user.is_admin else None,
    )
    services.record_access(db.session, user, client, channel="page")
    db.session.commit()
    return html
