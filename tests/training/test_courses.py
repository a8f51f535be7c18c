"""Courses and lessons: permissions, ordering, learning records, the report."""

import csv
import io

from kb.auth.models import User
from kb.extensions import db
from kb.training import services
from kb.training.models import Course, LessonCompletion
from tests.conftest import csrf_token
from tests.training.conftest import client_for, lesson_ids, make_course


def post(client, url: str, data: dict | None = None, page: str = "/training/"):
    fields = {"csrf_token": csrf_token(client, page), **(data or {})}
    return client.post(url, data=fields)


def lesson_titles(app, course_id: int) -> list[str]:
    with app.app_context():
        course = db.session.get(Course, course_id)
        return [lesson.title for lesson in course.lessons]


def positions(app, course_id: int) -> list[int]:
    with app.app_context():
        course = db.session.get(Course, course_id)
        return [lesson.position for lesson in course.lessons]


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.query(User).filter_by(username=username).one().id


def test_expert_creates_course_with_industries(app, trainers):
    client = client_for(app, "teacher")
    fields = {
        "title": "  制造业供应链金融  ",
        "industries": ["C", "36"],
        "description_md": "**重点**：应收账款。",
    }
    response = post(client, "/training/courses/new", fields, "/training/courses/new")
    assert response.status_code == 302
    with app.app_context():
        course = db.session.query(Course).one()
        assert course.title == "制造业供应链金融"
        assert [i.code for i in course.industries] == ["36", "C"]
        assert "<strong>重点</strong>" in course.description_html
    page = client.get("/training/?industry=C").get_data(as_text=True)
    assert "制造业供应链金融" in page
    page = client.get("/training/?industry=A").get_data(as_text=True)
    assert "制造业供应链金融" not in page


def test_course_form_errors_keep_input(app, trainers):
    client = client_for(app, "teacher")
    fields = {"title": "", "industries": ["ZZ9"], "description_md": "保留的介绍"}
    response = post(client, "/training/courses/new", fields, "/training/courses/new")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "标题不能为空" in page
    assert "未知的行业代码：ZZ9" in page
    assert "保留的介绍" in page
    too_long = {"title": "长" * 201}
    response = post(client, "/training/courses/new", too_long, "/training/courses/new")
    assert "标题最长 200 个字符，当前 201 个" in response.get_data(as_text=True)


def test_staff_cannot_create_or_edit(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "corp")
    assert client.get("/training/courses/new").status_code == 403
    assert client.get(f"/training/courses/{course_id}/edit").status_code == 403
    assert client.get(f"/training/courses/{course_id}/lessons/new").status_code == 403
    first = lesson_ids(app, course_id)[0]
    response = post(client, f"/training/lessons/{first}/move", {"direction": "down"})
    assert response.status_code == 403
    response = post(client, f"/training/lessons/{first}/delete")
    assert response.status_code == 403
    page = client.get(f"/training/courses/{course_id}").get_data(as_text=True)
    assert "编辑课程" not in page
    assert "供应链金融入门" in page


def test_other_expert_reads_but_cannot_edit(app, trainers):
    course_id = make_course(app)
    client = client_for(app, "teacher2")
    assert client.get(f"/training/courses/{course_id}").status_code == 200
    assert client.get(f"/training/courses/{course_id}/edit").status_code == 403
    admin = client_for(app, "admin")
    assert admin.get(f"/training/courses/{course_id}/edit").status_code == 200


def test_anonymous_redirected_to_login(app, trainers):
    course_id = make_course(app)
    anonymous = app.test_client()
    for url in ("/training/", f"/training/courses/{course_id}", "/training/lectures/"):
        response = anonymous.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"], url


def test_lessons_move_and_stay_dense(app, trainers):
    course_id = make_course(app, lessons=("一", "二", "三", "四"))
    one, two, three, four = lesson_ids(app, course_id)
    client = client_for(app, "teacher")
    page = f"/training/courses/{course_id}"
    post(client, f"/training/lessons/{three}/move", {"direction": "up"}, page)
    assert lesson_titles(app, course_id) == ["一", "三", "二", "四"]
    post(client, f"/training/lessons/{one}/move", {"direction": "down"}, page)
    assert lesson_titles(app, course_id) == ["三", "一", "二", "四"]
    post(client, f"/training/lessons/{three}/move", {"direction": "up"}, page)
    assert lesson_titles(app, course_id) == ["三", "一", "二", "四"]
    post(client, f"/training/lessons/{four}/move", {"direction": "down"}, page)
    assert lesson_titles(app, course_id) == ["三", "一", "二", "四"]
    assert positions(app, course_id) == [0, 1, 2, 3]
    post(client, f"/training/lessons/{one}/delete", page=page)
    assert lesson_titles(app, course_id) == ["三", "二", "四"]
    assert positions(app, course_id) == [0, 1, 2]
    response = post(client, f"/training/lessons/{two}/move", {"direction": "x"}, page)
    assert response.status_code == 400
    assert "direction" in response.get_data(as_text=True)


def test_add_and_edit_lesson(app, trainers):
    course_id = make_course(app, lessons=("一",))
    client = client_for(app, "teacher")
    new_page = f"/training/courses/{course_id}/lessons/new"
    fields = {"title": "二 风险识别", "body_md": "- 核心企业\n- 上下游"}
    response = post(client, new_page, fields, new_page)
    assert response.status_code == 302
    assert lesson_titles(app, course_id) == ["一", "二 风险识别"]
    assert positions(app, course_id) == [0, 1]
    second = lesson_ids(app, course_id)[1]
    page = client.get(f"/training/lessons/{second}").get_data(as_text=True)
    assert "<li>核心企业</li>" in page
    edit_page = f"/training/lessons/{second}/edit"
    response = post(client, edit_page, {"title": "", "body_md": "留着"}, edit_page)
    assert response.status_code == 400
    assert "标题不能为空" in response.get_data(as_text=True)


def test_lesson_page_previous_next(app, trainers):
    course_id = make_course(app, lessons=("一", "二", "三"))
    one, two, three = lesson_ids(app, course_id)
    client = client_for(app, "corp")
    page = client.get(f"/training/lessons/{two}").get_data(as_text=True)
    assert f'rel="prev" href="/training/lessons/{one}"' in page
    assert f'rel="next" href="/training/lessons/{three}"' in page
    page = client.get(f"/training/lessons/{one}").get_data(as_text=True)
    assert 'rel="prev"' not in page


def test_mark_done_undo_and_progress(app, trainers):
    course_id = make_course(app, lessons=("一", "二"))
    one, two = lesson_ids(app, course_id)
    client = client_for(app, "corp")
    response = post(client, f"/training/lessons/{one}/done")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/training/lessons/{two}")
    post(client, f"/training/lessons/{one}/done")
    with app.app_context():
        assert db.session.query(LessonCompletion).count() == 1
    page = client.get(f"/training/courses/{course_id}").get_data(as_text=True)
    assert "已学 1 / 2 课时（50%）" in page
    index = client.get("/training/").get_data(as_text=True)
    assert "我的学习" in index
    corp = user_id(app, "corp")
    with app.app_context():
        assert services.completed_courses(db.session, corp) == []
    post(client, f"/training/lessons/{two}/done")
    with app.app_context():
        done = services.completed_courses(db.session, corp)
        assert [course.id for course in done] == [course_id]
    post(client, f"/training/lessons/{two}/undo")
    with app.app_context():
        assert services.completed_courses(db.session, corp) == []


def test_completed_needs_every_lesson(app, trainers):
    course_id = make_course(app, lessons=("一", "二"))
    empty_id = make_course(app, title="空课程", lessons=())
    one, two = lesson_ids(app, course_id)
    corp = user_id(app, "corp")
    with app.app_context():
        user = db.session.get(User, corp)
        course = db.session.get(Course, course_id)
        services.mark_done(db.session, user, course.lessons[0])
        services.mark_done(db.session, user, course.lessons[1])
        db.session.commit()
        assert [c.id for c in services.completed_courses(db.session, corp)] == [
            course_id
        ]
        services.add_lesson(db.session, course, services.LessonInput("三"))
        db.session.commit()
        assert services.completed_courses(db.session, corp) == []
        assert empty_id not in [
            c.id for c in services.completed_courses(db.session, corp)
        ]


def test_completion_report_per_department(app, trainers):
    first = make_course(app, title="甲课程", lessons=("一", "二"))
    second = make_course(app, title="乙课程", lessons=("一",))
    first_lessons = lesson_ids(app, first)
    second_lessons = lesson_ids(app, second)
    with app.app_context():

        def done(username, lesson_id):
            user = db.session.query(User).filter_by(username=username).one()
            db.session.add(LessonCompletion(user_id=user.id, lesson_id=lesson_id))

        done("corp", first_lessons[0])
        done("corp", first_lessons[1])
        done("corp2", first_lessons[0])
        done("credit", first_lessons[0])
        done("credit", first_lessons[1])
        done("credit", second_lessons[0])
        db.session.commit()
        rows = {
            (row.department, row.course_title): row
            for row in services.completion_report(db.session)
        }
    corp_first = rows[("公司金融部", "甲课程")]
    assert (corp_first.headcount, corp_first.started, corp_first.completed) == (
        2,
        2,
        1,
    )
    credit_second = rows[("授信审批部", "乙课程")]
    assert (credit_second.started, credit_second.completed) == (1, 1)
    risk_first = rows[("风险管理部", "甲课程")]
    assert (risk_first.started, risk_first.completed) == (0, 0)

    client = client_for(app, "admin")
    page = client.get(f"/training/completion?course={second}").get_data(as_text=True)
    assert "乙课程" in page
    assert "甲课程</a>" not in page
    response = client.get("/training/completion.csv")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff部门 Department,")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert ["公司金融部", "甲课程", "2", "2", "1"] in rows
    assert ["授信审批部", "乙课程", "1", "1", "1"] in rows
    assert client.get("/training/completion?course=abc").status_code == 400


def test_completion_csv_formula_safe(app, trainers):
    make_course(app, title="=HYPERLINK(1)", lessons=("一",))
    client = client_for(app, "admin")
    text = client.get("/training/completion.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1][1] == "'=HYPERLINK(1)"


def test_completion_report_admins_only(app, trainers):
    client = client_for(app, "teacher")
    assert client.get("/training/completion").status_code == 403
    assert client.get("/training/completion.csv").status_code == 403
