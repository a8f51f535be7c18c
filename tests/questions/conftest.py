"""Question fixtures: staff with evidence or declarations, and builders.

Call the builders inside an app context; each commits like a request would.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import select

from kb.articles import services as articles
from kb.auth.models import User
from kb.experts.models import ExpertiseIndustry, ExpertiseSkill
from kb.extensions import db
from kb.notifications.models import Notification
from kb.questions import services
from kb.questions.models import Answer, Question, QuestionRouting
from tests.forum.conftest import people  # noqa: F401

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args) -> datetime:
    """Return a Shanghai wall-clock time as the naive UTC the database stores."""
    local = datetime(*args, tzinfo=SHANGHAI)
    return local.astimezone(UTC).replace(tzinfo=None)


def get_user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def declare(username: str, industry: str | None = None, skill=None, level=1):
    """Declare an industry division or a skill (a Skill row) with a level."""
    user = get_user(username)
    if industry is not None:
        db.session.add(
            ExpertiseIndustry(user_id=user.id, industry_code=industry, level=level)
        )
    if skill is not None:
        db.session.add(ExpertiseSkill(user_id=user.id, skill_id=skill.id, level=level))
    db.session.commit()


def write_brief(username: str, industry: str, title: str = "行业简报") -> int:
    data = articles.ArticleInput(
        title=title, body_md="正文：产能与库存。", industry_codes=[industry]
    )
    article = articles.create_article(
        db.session,
        data,
        get_user(username),
        current_app.config["KB_BODY_MAX_CHARS"],
    )
    db.session.commit()
    return article.id


def ask(
    username: str,
    title: str = "新能源车企的应收账款融资怎么做？",
    industries=("36",),
    skills=(),
    expert: str | None = None,
    now: datetime | None = None,
    body: str = "",
) -> Question:
    data = services.QuestionInput(
        title=title,
        body_md=body,
        industry_codes=list(industries),
        skills=list(skills),
    )
    expert_id = get_user(expert).id if expert else None
    question = services.ask(
        db.session, get_user(username), data, expert_id=expert_id, now=now
    )
    db.session.commit()
    return question


def answer(username: str, question: Question, body: str = "建议先核实回款周期。"):
    created = services.add_answer(
        db.session,
        get_user(username),
        question,
        body,
        current_app.config["KB_BODY_MAX_CHARS"],
    )
    db.session.commit()
    return created


def accept(username: str, item: Answer) -> None:
    services.accept(db.session, get_user(username), item)
    db.session.commit()


def routed_usernames(question: Question) -> list[str]:
    """Return the people a question went to, in routing order."""
    rows = db.session.execute(
        select(User.username)
        .join(QuestionRouting, QuestionRouting.user_id == User.id)
        .where(QuestionRouting.question_id == question.id)
        .order_by(QuestionRouting.round, QuestionRouting.id)
    )
    return list(rows.scalars())


def notifications_of(username: str, event: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == get_user(username).id)
    if event is not None:
        query = query.where(Notification.event == event)
    return list(db.session.scalars(query.order_by(Notification.id)))


@pytest.fixture
def experts(app, people, make_user):  # noqa: F811
    """More staff around the forum ``people``, without evidence or declarations.

    Tests give auto1, auto2 and auto3 evidence in 汽车制造业 (division 36),
    let idle only declare it, and deactivate gone.
    """
    for name, display in (
        ("auto1", "周汽车"),
        ("auto2", "吴汽车"),
        ("auto3", "郑汽车"),
        ("idle", "冯声明"),
        ("gone", "陈离职"),
    ):
        people[name] = make_user(name, department="公司金融部", display_name=display)
    return people
