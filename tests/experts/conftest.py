"""Expertise fixtures: briefs, accepted answers, marks and profiles as evidence."""

from datetime import datetime

from sqlalchemy import select

from kb.articles import services as article_services
from kb.auth.models import User
from kb.experts import services
from kb.extensions import db
from kb.forum import services as forum_services
from kb.forum.models import Post
from kb.questions.models import Answer, Question
from kb.taxonomy.services import industries_for_codes
from tests.forum.conftest import add_reply, people, sign_in, write_post  # noqa: F401


def user_named(username: str) -> User:
    return db.session.scalars(select(User).where(User.username == username)).one()


def write_brief(app, author: str, industry_codes=(), tags=(), title="汽车行业简报"):
    """Publish a brief as ``author`` through the service; return its id."""
    with app.app_context():
        data = article_services.ArticleInput(
            title=title,
            body_md="新能源汽车渗透率继续上升。",
            industry_codes=list(industry_codes),
            tags=list(tags),
            published_at=datetime(2026, 11, 1, 9, 0),
        )
        article = article_services.create_article(
            db.session, data, user_named(author), 300_000
        )
        db.session.commit()
        return article.id


def accepted_answer(
    app,
    author: str,
    asker: str,
    industry_codes=(),
    skill_names=(),
    title="汽车零部件企业的账期一般多长？",
    hidden=False,
    accepted=True,
) -> int:
    """Create a question by ``asker`` and an accepted answer by ``author``.

    Returns the answer id.
    """
    with app.app_context():
        question = Question(
            title=title,
            body_md="",
            body_html="",
            asker=user_named(asker),
            industries=industries_for_codes(db.session, list(industry_codes)),
            skills=[services._skill_for_name(db.session, n) for n in skill_names],
        )
        db.session.add(question)
        db.session.flush()
        answer = Answer(
            question_id=question.id,
            author=user_named(author),
            body_md="一般 90 到 120 天。",
            body_html="<p>一般 90 到 120 天。</p>",
            accepted=accepted,
            hidden=hidden,
        )
        db.session.add(answer)
        db.session.flush()
        if accepted:
            question.accepted_answer_id = answer.id
            question.status = "answered"
        db.session.commit()
        return answer.id


def mark_post_useful(app, username: str, post_id: int) -> None:
    with app.app_context():
        post = db.session.get(Post, post_id)
        forum_services.toggle_useful_mark(db.session, user_named(username), post)
        db.session.commit()


def mark_answer_useful(app, username: str, answer_id: int) -> None:
    with app.app_context():
        answer = db.session.get(Answer, answer_id)
        forum_services.toggle_useful_mark(db.session, user_named(username), answer)
        db.session.commit()


def declare(app, username: str, industries=(), skills=(), headline="") -> None:
    with app.app_context():
        services.set_profile(
            db.session,
            user_named(username),
            headline,
            "",
            industries=list(industries),
            skills=list(skills),
        )
        db.session.commit()


def endorse(app, endorser: str, username: str, **subject) -> bool:
    with app.app_context():
        state = services.endorse(
            db.session, user_named(endorser), user_named(username), **subject
        )
        db.session.commit()
        return state
