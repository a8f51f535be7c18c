"""Load the demo departments, accounts and briefs into an empty or existing database."""

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.articles.models import Article
from kb.articles.services import ArticleInput, create_article
from kb.auth.models import User
from kb.auth.services import create_user, get_or_create_department
from kb.clients import services as clients
from kb.demo_content import (
    BRIEFS,
    CLIENTS,
    DEPARTMENTS,
    POSTS,
    RISK_DEPARTMENTS,
    USERS,
)
from kb.forum import services as forum
from kb.forum.models import Post
from kb.timeutil import utcnow

# Shared by every demo account; printed by `kb demo load`. Never use demo data
# in production.
DEMO_PASSWORD = "kb-demo-password"


def load_demo(session: Session, body_max: int) -> str:
    """Create what is missing of the demo data; return a summary with sign-in help."""
    for name in DEPARTMENTS:
        department = get_or_create_department(session, name)
        if name in RISK_DEPARTMENTS:
            department.handles_risk = True
    created_users = 0
    for spec in USERS:
        exists = session.scalar(select(User).where(User.username == spec["username"]))
        if exists is None:
            create_user(
                session,
                spec["username"],
                DEMO_PASSWORD,
                spec["role"],
                spec["department"],
                spec["display_name"],
            ).email = f"{spec['username']}@bank.example"
            created_users += 1
    created_briefs = 0
    for number, spec in enumerate(BRIEFS, start=1):
        key = f"demo:{number}"
        if session.scalar(select(Article.id).where(Article.import_key == key)):
            continue
        author = session.scalar(select(User).where(User.username == spec["author"]))
        data = ArticleInput(
            title=spec["title"],
            body_md=spec["body"],
            summary=spec["summary"],
            industry_codes=list(spec["industries"]),
            tags=list(spec["tags"]),
            published_at=date.fromisoformat(spec["published_on"]),
            source=spec.get("source", ""),
        )
        create_article(session, data, author, body_max, import_key=key)
        created_briefs += 1
    created_posts = _load_posts(session, body_max)
    created_clients = _load_clients(session)
    accounts = ", ".join(spec["username"] for spec in USERS)
    return (
        f"Demo data: {created_users} accounts, {created_briefs} briefs, "
        f"{created_posts} forum posts and {created_clients} clients created.\n"
        f"Sign in at http://127.0.0.1:5000/login as one of: {accounts}\n"
        f"Password for every demo account: {DEMO_PASSWORD}  (administrator: admin)"
    )


def _user(session: Session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _load_posts(session: Session, body_max: int) -> int:
    created = 0
    for spec in POSTS:
        if session.scalar(select(Post.id).where(Post.title == spec["title"])):
            continue
        author = _user(session, spec["author"])
        data = forum.PostInput(
            title=spec["title"],
            body_md=spec["body"],
            signal_type=spec["signal_type"],
            visibility=spec["visibility"],
            industry_codes=list(spec["industries"]),
            tags=list(spec["tags"]),
            severity=spec.get("severity"),
        )
        post = forum.create_post(session, data, author, body_max)
        stamp = utcnow() - timedelta(days=spec["days_ago"])
        post.created_at = post.updated_at = post.last_activity_at = stamp
        for change in post.status_changes:
            change.created_at = stamp
        for number, (username, text) in enumerate(spec["replies"], start=1):
            reply = forum.add_reply(
                session, post, text, _user(session, username), body_max
            )
            reply.created_at = reply.updated_at = stamp + timedelta(hours=number)
        created += 1
    return created


def _load_clients(session: Session) -> int:
    created = 0
    for spec in CLIENTS:
        data = clients.ClientInput(
            name=spec["name"],
            credit_code=spec["credit_code"],
            industry_code=spec["industry"],
            manager_id=_user(session, spec["manager"]).id,
            branch=spec["branch"],
            segment=spec["segment"],
            status=spec["status"],
            products=list(spec["products"]),
            notes=spec["notes"],
        )
        client, outcome = clients.upsert(session, data)
        if outcome != "created":
            continue
        for title in spec["posts"]:
            post = session.scalar(select(Post).where(Post.title == title))
            if post is not None:
                clients.set_post_clients(session, post, [client])
        created += 1
    return created
