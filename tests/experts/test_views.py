"""The people directory, profiles, the edit form and endorsement buttons."""

from kb.experts.services import skill_by_name
from kb.extensions import db
from tests.conftest import csrf_token
from tests.experts.conftest import (
    accepted_answer,
    declare,
    sign_in,
    user_named,
    write_brief,
    write_post,
)


def _id(app, username: str) -> int:
    with app.app_context():
        return user_named(username).id


def test_directory_ranks_with_evidence(app, client, people):
    write_brief(app, "credit", industry_codes=["36"], title="新能源车企简报")
    declare(app, "corp", industries=[("36", 3)], skills=[("供应链金融", 2)])
    sign_in(client, "corp2")
    page = client.get("/people/?industry=36").get_data(as_text=True)
    assert page.index("赵授信") < page.index("王公司")
    assert "授信审批部" in page
    assert "新能源车企简报" in page
    assert "供应链金融" in page
    assert "精通" in page


def test_directory_unknown_filters(app, client, people):
    sign_in(client, "corp")
    response = client.get("/people/?industry=ZZ")
    assert response.status_code == 400
    assert "未知的行业代码" in response.get_data(as_text=True)
    response = client.get("/people/?skill=不存在的技能")
    assert response.status_code == 400
    assert "不存在的技能" in response.get_data(as_text=True)


def test_directory_empty_explains(app, client, people):
    sign_in(client, "corp")
    page = client.get("/people/?q=没有这个人").get_data(as_text=True)
    assert "没有找到符合条件的同事" in page
    assert "关键词可以是" in page


def test_directory_text_does_not_fail(app, client, people):
    sign_in(client, "corp")
    for query in ("HVDC 电网", "%", "'\"<>", "a" * 500, "汽车 ３６"):
        response = client.get("/people/", query_string={"q": query})
        assert response.status_code == 200, query


def test_directory_pages(app, client, people):
    app.config["KB_PER_PAGE"] = 2
    for username in ("corp", "corp2", "credit"):
        write_brief(app, username, industry_codes=["36"])
    sign_in(client, "risk")
    first = client.get("/people/").get_data(as_text=True)
    second = client.get("/people/?page=2").get_data(as_text=True)
    assert 'rel="next"' in first
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second


def test_directory_hides_restricted_titles(app, client, people):
    write_post(app, "corp", title="仅本部门可见的授信安排", visibility="department")
    write_post(app, "corp", title="公开的钢价信号")
    write_brief(app, "corp", industry_codes=["36"])
    sign_in(client, "credit")
    listing = client.get("/people/").get_data(as_text=True)
    profile = client.get(f"/people/{_id(app, 'corp')}").get_data(as_text=True)
    for page in (listing, profile):
        assert "仅本部门可见的授信安排" not in page
    assert "公开的钢价信号" in profile
    colleague_client = sign_in(app.test_client(), "corp2")
    colleague = colleague_client.get(f"/people/{_id(app, 'corp')}").get_data(
        as_text=True
    )
    assert "仅本部门可见的授信安排" in colleague


def test_profile_shows_evidence_and_ask_link(app, client, people):
    declare(app, "credit", industries=[("36", 2)], headline="汽车授信")
    accepted_answer(app, "credit", "corp", industry_codes=["36"], title="车企账期")
    sign_in(client, "corp")
    credit_id = _id(app, "credit")
    page = client.get(f"/people/{credit_id}").get_data(as_text=True)
    assert "汽车授信" in page
    assert "车企账期" in page
    assert f"/questions/ask?expert={credit_id}" in page
    assert "认可" in page


def test_profile_unknown_or_inactive(app, client, people):
    with app.app_context():
        user_named("corp2").active = False
        db.session.commit()
    sign_in(client, "corp")
    assert client.get("/people/999").status_code == 404
    assert client.get(f"/people/{_id(app, 'corp2')}").status_code == 404


def test_own_profile_has_no_endorse_button(app, client, people):
    declare(app, "corp", industries=[("36", 2)])
    sign_in(client, "corp")
    page = client.get(f"/people/{_id(app, 'corp')}").get_data(as_text=True)
    assert "/endorse" not in page
    assert "编辑我的专长" in page


def test_endorse_button_toggles(app, client, people):
    declare(app, "credit", skills=[("票据业务", 2)])
    sign_in(client, "corp")
    credit_id = _id(app, "credit")
    with app.app_context():
        skill_id = skill_by_name(db.session, "票据业务").id
    token = csrf_token(client, f"/people/{credit_id}")
    response = client.post(
        f"/people/{credit_id}/endorse",
        data={"csrf_token": token, "skill_id": str(skill_id)},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "已认可" in page
    assert "撤回认可" in page
    response = client.post(
        f"/people/{credit_id}/endorse",
        data={"csrf_token": token, "skill_id": str(skill_id)},
        follow_redirects=True,
    )
    assert "已撤回认可" in response.get_data(as_text=True)


def test_endorse_needs_csrf(app, client, people):
    declare(app, "credit", industries=[("36", 2)])
    sign_in(client, "corp")
    response = client.post(
        f"/people/{_id(app, 'credit')}/endorse", data={"industry_code": "36"}
    )
    assert response.status_code == 400


def test_endorse_self_refused(app, client, people):
    declare(app, "corp", industries=[("36", 2)])
    sign_in(client, "corp")
    corp_id = _id(app, "corp")
    token = csrf_token(client, "/people/me")
    response = client.post(
        f"/people/{corp_id}/endorse",
        data={"csrf_token": token, "industry_code": "36"},
        follow_redirects=True,
    )
    assert "不能认可自己的专长" in response.get_data(as_text=True)


def test_edit_saves_profile(app, client, people):
    sign_in(client, "corp")
    token = csrf_token(client, "/people/me")
    response = client.post(
        "/people/me",
        data={
            "csrf_token": token,
            "headline": "汽车产业链授信",
            "bio_md": "十年**汽车**行业经验",
            "industry_value": ["36", ""],
            "industry_level": ["3", "1"],
            "skill_value": ["供应链金融", ""],
            "skill_level": ["2", "1"],
        },
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "汽车产业链授信" in page
    assert "<strong>汽车</strong>" in page
    assert "供应链金融" in page
    form = client.get("/people/me").get_data(as_text=True)
    assert 'value="36" selected' in form
    assert 'value="供应链金融"' in form


def test_edit_keeps_input_on_errors(app, client, people):
    sign_in(client, "corp")
    token = csrf_token(client, "/people/me")
    response = client.post(
        "/people/me",
        data={
            "csrf_token": token,
            "headline": "我的介绍",
            "bio_md": "简介正文",
            "industry_value": ["36"],
            "industry_level": ["2"],
            "skill_value": ["技" * 41, "绿色金融"],
            "skill_level": ["1", "3"],
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "过长" in page
    assert "我的介绍" in page
    assert "简介正文" in page
    assert 'value="36" selected' in page
    assert "技" * 41 in page
    assert 'value="绿色金融"' in page


def test_edit_expired_token_keeps_input(app, client, people):
    sign_in(client, "corp")
    response = client.post(
        "/people/me",
        data={
            "headline": "保留这句",
            "skill_value": ["并购贷款"],
            "skill_level": ["2"],
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "保留这句" in page
    assert 'value="并购贷款"' in page


def test_pages_need_login(client, people):
    response = client.get("/people/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_profile_lists_completed_courses(app, client, people):
    from kb.training.models import Course, Lesson, LessonCompletion

    with app.app_context():
        credit = user_named("credit")
        done = Course(title="汽车产业链授信实务")
        started = Course(title="跨境结算入门")
        db.session.add_all([done, started])
        db.session.flush()
        lessons = [
            Lesson(course_id=done.id, position=1, title="第一课"),
            Lesson(course_id=started.id, position=1, title="第一课"),
            Lesson(course_id=started.id, position=2, title="第二课"),
        ]
        db.session.add_all(lessons)
        db.session.flush()
        for lesson in lessons[:2]:
            db.session.add(LessonCompletion(user_id=credit.id, lesson_id=lesson.id))
        db.session.commit()
        credit_id = credit.id
    sign_in(client, "corp")
    page = client.get(f"/people/{credit_id}").get_data(as_text=True)
    assert "已完成的课程" in page
    assert "汽车产业链授信实务" in page
    assert "跨境结算入门" not in page
