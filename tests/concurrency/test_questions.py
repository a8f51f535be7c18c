"""Questions at once: acceptance, answer counts, skills, escalation, closing."""

import sqlalchemy as sa
from flask import current_app

from kb.errors import ValidationError
from kb.experts.models import Skill
from kb.extensions import db
from kb.notifications.models import Notification
from kb.questions import services
from kb.questions.models import Answer, Question, QuestionRouting
from kb.questions.routing import escalate
from tests.concurrency import overlap
from tests.questions.conftest import (  # noqa: F401
    answer,
    ask,
    experts,
    get_user,
    people,
    shanghai,
    write_brief,
)


def test_two_acceptances_leave_one(app, people):  # noqa: F811
    with app.app_context():
        question = ask("corp")
        answer_ids = [answer(name, question).id for name in ("credit", "risk")]
        question_id = question.id

    def accepting(answer_id: int):
        def work():
            item = db.session.get(Answer, answer_id)
            services.accept(db.session, get_user("corp"), item)

        return work

    first, second = overlap(app, accepting(answer_ids[0]), accepting(answer_ids[1]))

    assert first.error is None
    assert second.error is None
    with app.app_context():
        accepted = db.session.scalars(
            sa.select(Answer.id).where(Answer.accepted.is_(True))
        ).all()
        assert accepted == [answer_ids[1]]
        assert db.session.get(Question, question_id).accepted_answer_id == answer_ids[1]


def test_answers_at_once_count_both(app, people):  # noqa: F811
    with app.app_context():
        question_id = ask("corp").id

    def answering(username: str):
        def work():
            question = db.session.get(Question, question_id)
            body_max = current_app.config["KB_BODY_MAX_CHARS"]
            services.add_answer(
                db.session, get_user(username), question, "先看回款。", body_max
            )

        return work

    first, second = overlap(app, answering("credit"), answering("risk"))

    assert first.error is None
    assert second.error is None
    with app.app_context():
        assert db.session.get(Question, question_id).answer_count == 2


def test_new_skill_in_two_questions(app, people):  # noqa: F811
    def asking(username: str, title: str):
        def work():
            data = services.QuestionInput(
                title=title, body_md="", industry_codes=[], skills=["碳金融"]
            )
            return services.ask(db.session, get_user(username), data).id

        return work

    first, second = overlap(
        app, asking("corp", "碳金融怎么做？"), asking("credit", "碳金融风险？")
    )

    assert first.error is None
    assert second.error is None
    with app.app_context():
        skills = db.session.scalars(sa.select(Skill).where(Skill.name == "碳金融"))
        assert len(skills.all()) == 1


def test_two_escalation_runs_ask_once(app, experts):  # noqa: F811
    app.config["KB_QUESTION_EXPERTS"] = 1
    app.config["KB_QUESTION_ESCALATE_DAYS"] = 2
    with app.app_context():
        for name, count in (("auto1", 3), ("auto2", 2), ("auto3", 1)):
            for number in range(count):
                write_brief(name, "36", f"简报 {name} {number}")
        question_id = ask("corp", now=shanghai(2025, 1, 3, 10, 0)).id

    def escalating():
        return len(escalate(db.session, shanghai(2025, 1, 7, 10, 0)))

    first, second = overlap(app, escalating, escalating)

    assert first.error is None
    assert second.error is None
    assert first.result == 1
    assert second.result == 0
    with app.app_context():
        routed = db.session.scalars(
            sa.select(QuestionRouting.user_id).where(
                QuestionRouting.question_id == question_id
            )
        ).all()
        assert len(routed) == 2
        escalated = db.session.scalar(
            sa.select(sa.func.count(Notification.id)).where(
                Notification.event == "escalated"
            )
        )
        assert escalated == 1
        assert db.session.get(Question, question_id).escalation_count == 1


def changing_status(question_id: int, change):
    def work():
        question = db.session.get(Question, question_id)
        change(db.session, get_user("corp"), question)

    return work


def test_close_twice_closes_once(app, people):  # noqa: F811
    with app.app_context():
        question_id = ask("corp").id

    first, second = overlap(
        app,
        changing_status(question_id, services.close),
        changing_status(question_id, services.close),
    )

    assert first.error is None
    assert isinstance(second.error, ValidationError)
    assert "待解答" in str(second.error)
    with app.app_context():
        assert db.session.get(Question, question_id).status == "closed"


def test_reopen_twice_reopens_once(app, people):  # noqa: F811
    with app.app_context():
        question = ask("corp")
        services.close(db.session, get_user("corp"), question)
        db.session.commit()
        question_id = question.id

    first, second = overlap(
        app,
        changing_status(question_id, services.reopen),
        changing_status(question_id, services.reopen),
    )

    assert first.error is None
    assert isinstance(second.error, ValidationError)
    assert "已关闭" in str(second.error)
    with app.app_context():
        assert db.session.get(Question, question_id).status == "open"
