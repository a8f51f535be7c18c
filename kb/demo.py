"""Load the demo departments, accounts and briefs into an empty or existing database."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.articles.models import Article
from kb.articles.services import ArticleInput, create_article
from kb.auth.models import User
from kb.auth.services import create_user, get_or_create_department
from kb.demo_content import BRIEFS, DEPARTMENTS, USERS

# Shared by every demo account; printed by `kb demo load`. Never use demo data
# in production.
DEMO_PASSWORD = "kb-demo-password"


def load_demo(session: Session, body_max: int) -> str:
    """Create what is missing of the demo data; return a summary with sign-in help."""
    for name in DEPARTMENTS:
        get_or_create_department(session, name)
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
            )
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
    accounts = ", ".join(spec["username"] for spec in USERS)
    return (
        f"Demo data: {created_users} accounts and {created_briefs} briefs created.\n"
        f"Sign in at http://127.0.0.1:5000/login as one of: {accounts}\n"
        f"Password for every demo account: {DEMO_PASSWORD}  (administrator: admin)"
    )
