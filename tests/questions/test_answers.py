"""Answers: acceptance rules, useful marks, hiding, counts and search."""

import pytest

from kb.errors import PermissionDenied, ValidationError
from kb.experts.evidence import rank_people
from kb.extensions import db
from kb.questions import services
from kb.search.service import SearchQuery, run_search
from tests.questions.conftest import accept, answer, ask, get_user, notifications_of


def _search(q: str, doc_type: str = "question") -> list[int]:
    page = run_search(SearchQuery(q=q, type=doc_type), ["all"])
    return [hit.record_id for hit in page.hits]


def test_only_asker_or_admin_accepts(app, experts):
    with app.app_context():
        question = ask("corp")
        given = answer("auto1", question)
        with pytest.raises(PermissionDenied):
            services.accept(db.session, get_user("corp2"), given)
        db.session.rollback()
        accept("admin", given)
        db.session.refresh(question)
        assert question.status == "answered"
        assert question.accepted_answer_id == given.id
        assert question.accepted_at is not None


def test_accepting_another_moves_acceptance(app, experts):
    with app.app_context():
        question = ask("corp")
        first = answer("auto1", question)
        second = answer("auto2", question, "第二种做法：保理。")
        accept("corp", first)
        accept("corp", second)
        db.session.refresh(first)
        db.session.refresh(question)
        assert first.accepted is False
        assert second.accepted is True
        assert question.accepted_answer_id == second.id
        # The first author's unread news of acceptance is withdrawn.
        events = [n.event for n in notifications_of("auto1")]
        assert events.count("accepted") == 0
        assert [n.event for n in notifications_of("auto2")].count("accepted") == 1
        services.unaccept(db.session, get_user("corp"), second)
        db.session.commit()
        db.session.refresh(question)
        assert question.status == "open"
        assert question.accepted_answer_id is None


def test_asker_answer_cannot_be_accepted(app, experts):
    with app.app_context():
        question = ask("corp")
        own = answer("corp", question, "我自己查到了。")
        assert notifications_of("corp", "answer") == []
        with pytest.raises(ValidationError):
            services.accept(db.session, get_user("corp"), own)
        with pytest.raises(ValidationError):
            services.accept(db.session, get_user("admin"), own)


def test_accepted_answer_counts_as_evidence(app, experts):
    with app.app_context():
        question = ask("corp", skills=["供应链金融"])
        given = answer("auto3", question)
        assert rank_people(db.session, industry_codes=["36"]) == []
        accept("corp", given)
        ranked = rank_people(db.session, industry_codes=["36"])
        assert [person.user.username for person in ranked] == ["auto3"]
        assert ranked[0].evidence.accepted_answers == 1
        skill_id = question.skills[0].id
        by_skill = rank_people(db.session, skill_ids=[skill_id])
        assert by_skill[0].evidence.accepted_answers == 1


def test_asker_notified_of_each_answer(app, experts):
    with app.app_context():
        question = ask("corp")
        first = answer("auto1", question)
        second = answer("auto2", question)
        notes = notifications_of("corp", "answer")
        assert [(n.question_id, n.answer_id) for n in notes] == [
            (question.id, first.id),
            (question.id, second.id),
        ]
        db.session.refresh(question)
        assert question.answer_count == 2


def test_useful_not_own_and_once(app, experts):
    with app.app_context():
        question = ask("corp")
        given = answer("auto1", question)
        with pytest.raises(ValidationError):
            services.toggle_useful(db.session, get_user("auto1"), given)
        assert services.toggle_useful(db.session, get_user("corp"), given) is True
        assert services.toggle_useful(db.session, get_user("corp2"), given) is True
        db.session.commit()
        assert given.useful_count == 2
        assert services.toggle_useful(db.session, get_user("corp"), given) is False
        db.session.commit()
        assert given.useful_count == 1
        marked = services.useful_answer_ids(db.session, get_user("corp2"), question)
        assert marked == {given.id}


def test_closed_question_takes_no_answers(app, experts):
    with app.app_context():
        question = ask("corp")
        services.close(db.session, get_user("corp"), question)
        db.session.commit()
        with pytest.raises(services.QuestionErrors):
            answer("auto1", question)
        db.session.rollback()
        with pytest.raises(PermissionDenied):
            services.reopen(db.session, get_user("corp2"), question)
        services.reopen(db.session, get_user("corp"), question)
        db.session.commit()
        assert question.status == "open"


def test_validation_names_fields(app, experts):
    with app.app_context():
        data = services.QuestionInput(
            title=" ", body_md="", industry_codes=["ZZ"], skills=["a"] * 1
        )
        errors = services.validate(db.session, data, 100)
        assert set(errors) == {"title", "industries"}
        assert "ZZ" in str(errors["industries"])
        data = services.QuestionInput(title="好问题", skills=[])
        errors = services.validate(db.session, data, 100)
        assert set(errors) == {"industries"}
        data = services.QuestionInput(
            title="x" * 201, body_md="长" * 101, skills=[f"技能{i}" for i in range(11)]
        )
        errors = services.validate(db.session, data, 100)
        assert set(errors) == {"title", "body_md", "skills"}
        data = services.QuestionInput(title="好问题", skills=["长" * 41])
        assert set(services.validate(db.session, data, 100)) == {"skills"}


def test_new_skills_created_once(app, experts):
    with app.app_context():
        first = ask("corp", industries=[], skills=["绿色金融", "ＥＳＧ"])
        second = ask("corp2", industries=[], skills=["esg"])
        assert [skill.name for skill in first.skills] == ["esg", "绿色金融"]
        assert second.skills[0].id == first.skills[0].id


def test_hidden_answer_leaves_search_and_counts(app, experts):
    with app.app_context():
        question = ask("corp", title="出口退税周期")
        given = answer("auto1", question, "退税周期约为二十个工作日。")
        accept("corp", given)
        assert _search("二十个工作日") == [question.id]
        services.hide_answer(db.session, get_user("admin"), given, "内容有误")
        db.session.commit()
        db.session.refresh(question)
        assert question.answer_count == 0
        assert question.status == "open"
        assert given.accepted is False
        assert _search("二十个工作日") == []
        assert _search("出口退税") == [question.id]
        assert services.visible_answers(get_user("corp"), question) == []
        assert services.visible_answers(get_user("admin"), question) == [given]


def test_hidden_question_not_found_or_searchable(app, experts):
    with app.app_context():
        question = ask("corp", title="钛白粉出口")
        assert _search("钛白粉") == [question.id]
        with pytest.raises(PermissionDenied):
            services.hide_question(db.session, get_user("corp"), question, "x")
        services.hide_question(db.session, get_user("admin"), question, "重复问题")
        db.session.commit()
        assert _search("钛白粉") == []
        with pytest.raises(services.NotFound):
            services.get_visible_question(db.session, get_user("corp"), question.id)
        found = services.get_visible_question(
            db.session, get_user("admin"), question.id
        )
        assert found.id == question.id


def test_search_finds_accepted_answer_phrase(app, experts):
    with app.app_context():
        question = ask("corp", title="车企保理额度", skills=["供应链金融"])
        answer("auto2", question, "先看核心企业确权。")
        given = answer("auto1", question, "反向保理可以锁定核心企业信用。")
        accept("corp", given)
        assert _search("反向保理") == [question.id]
        assert _search("反向保理", "post") == []
        assert _search("供应链金融") == [question.id]
        page = run_search(SearchQuery(q="反向保理"), ["all"])
        assert page.hits[0].url == f"/questions/{question.id}"
        assert page.hits[0].type == "question"


def test_withdrawn_acceptance_leaves_inbox(app, experts):
    """Drop the unread "accepted" notice once the acceptance is withdrawn."""
    with app.app_context():
        question = ask("corp")
        given = answer("auto1", question)
        accept("corp", given)
        assert len(notifications_of("auto1", "accepted")) == 1
        services.unaccept(db.session, get_user("corp"), given)
        db.session.commit()
        assert notifications_of("auto1", "accepted") == []
