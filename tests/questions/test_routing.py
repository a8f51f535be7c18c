"""Routing new questions to experts by evidence, and the expert queue."""

import pytest
from sqlalchemy import select

from kb.experts.evidence import rank_people
from kb.extensions import db
from kb.questions import routing, services
from kb.questions.models import QuestionRouting
from kb.questions.services import skills_for_names
from tests.questions.conftest import (
    accept,
    answer,
    ask,
    declare,
    get_user,
    notifications_of,
    routed_usernames,
    write_brief,
)


def test_routing_picks_best_by_evidence(app, experts):
    app.config["KB_QUESTION_EXPERTS"] = 2
    with app.app_context():
        # auto1: two briefs (6 points); auto2: one brief (3); auto3: declares
        # level 3 only, which never raises the score.
        write_brief("auto1", "36", "汽车产销月报")
        write_brief("auto1", "36", "800V 平台渗透率")
        write_brief("auto2", "36", "整车库存")
        declare("auto3", industry="36", level=3)
        question = ask("corp")
        assert routed_usernames(question) == ["auto1", "auto2"]
        rows = db.session.scalars(
            select(QuestionRouting).where(QuestionRouting.question_id == question.id)
        ).all()
        assert {row.round for row in rows} == {0}
        assert sorted(row.score for row in rows) == [3.0, 6.0]


def test_accepted_answer_outweighs_brief(app, experts):
    app.config["KB_QUESTION_EXPERTS"] = 1
    with app.app_context():
        write_brief("auto1", "36")
        first = ask("corp2", title="车企票据贴现利率")
        given = answer("auto2", first)
        accept("corp2", given)
        ranked = rank_people(db.session, industry_codes=["36"])
        assert ranked[0].user.username == "auto2"
        assert ranked[0].evidence.accepted_answers == 1
        question = ask("corp", title="车企应收账款保理")
        assert routed_usernames(question) == ["auto2"]


def test_routing_excludes_asker_and_inactive(app, experts):
    with app.app_context():
        for name in ("corp", "gone", "auto1"):
            write_brief(name, "36")
        get_user("gone").active = False
        db.session.commit()
        question = ask("corp")
        assert routed_usernames(question) == ["auto1"]


def test_chosen_expert_is_asked_first(app, experts):
    app.config["KB_QUESTION_EXPERTS"] = 1
    with app.app_context():
        write_brief("auto1", "36")
        question = ask("corp", expert="credit")
        assert routed_usernames(question) == ["credit", "auto1"]
        reasons = [n.reason for n in notifications_of("credit", "question")]
        assert reasons == ["chosen:36 汽车制造业"]


def test_chosen_expert_is_not_the_asker(app, experts):
    with app.app_context():
        with pytest.raises(services.QuestionErrors) as caught:
            ask("corp", expert="corp")
        assert "expert" in caught.value.errors
        get_user("gone").active = False
        db.session.commit()
        with pytest.raises(services.QuestionErrors):
            ask("corp", expert="gone")


def test_routed_people_are_notified(app, experts):
    with app.app_context():
        write_brief("auto1", "36")
        question = ask("corp", skills=["供应链金融"])
        notes = notifications_of("auto1")
        assert [(n.event, n.question_id) for n in notes] == [("question", question.id)]
        assert notes[0].reason == "evidence:36 汽车制造业、供应链金融"
        assert notes[0].post_id is None
        assert notifications_of("auto2") == []
        assert notifications_of("corp") == []


def test_nobody_with_evidence_falls_back_to_declared(app, experts):
    with app.app_context():
        declare("idle", industry="36", level=1)
        declare("auto3", industry="36", level=3)
        declare("auto2", industry="37", level=3)
        question = ask("corp")
        assert routed_usernames(question) == ["auto3", "idle"]
        assert notifications_of("auto3")[0].reason.startswith("declared:")


def test_section_question_reaches_declared_divisions(app, experts):
    with app.app_context():
        declare("idle", industry="36", level=2)
        question = ask("corp", industries=["C"])
        assert routed_usernames(question) == ["idle"]


def test_skill_question_routes_by_skill(app, experts):
    with app.app_context():
        (skill,) = skills_for_names(db.session, ["跨境结算"])
        db.session.commit()
        declare("auto2", skill=skill, level=2)
        question = ask("corp", industries=[], skills=["跨境结算"])
        assert routed_usernames(question) == ["auto2"]


def test_nobody_to_ask_routes_nobody(app, experts):
    with app.app_context():
        question = ask("corp")
        assert routed_usernames(question) == []
        assert routing.routed_count(db.session, question) == 0


def test_queue_lists_routed_and_declared(app, experts):
    with app.app_context():
        write_brief("auto1", "36")
        routed = ask("corp", title="路由给我的问题")
        declared = ask("corp2", title="票据问题", industries=[], skills=["票据业务"])
        # Declared after the question was routed, so it reaches the queue only
        # through the declaration.
        declare("auto1", skill=declared.skills[0], level=1)
        answered = ask("credit", title="有人回答了的问题")
        answer("corp", answered)
        other = ask("corp", title="别的行业", industries=["66"])
        user = get_user("auto1")
        items, total = routing.queue(db.session, user, 1, 20)
        titles = [item.question.title for item in items]
        # Unanswered first, oldest first.
        assert titles == [routed.title, declared.title, answered.title]
        assert total == 3
        assert [item.routed for item in items] == [True, False, True]
        assert other.title not in titles
        assert routing.queue_unanswered_count(db.session, user) == 2
        closed = routed
        services.close(db.session, get_user("corp"), closed)
        db.session.commit()
        items, total = routing.queue(db.session, user, 1, 20)
        assert closed.id not in [item.question.id for item in items]
