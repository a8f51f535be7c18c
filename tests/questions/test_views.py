"""Question pages: asking, answering, accepting, permissions, CSRF, 404s."""

import re

from kb.extensions import db
from kb.questions import services
from kb.questions.models import Question
from tests.conftest import csrf_token
from tests.forum.conftest import sign_in
from tests.questions.conftest import answer, ask, get_user, write_brief


def _token(client, path="/questions/ask") -> str:
    return csrf_token(client, path)


def test_ask_routes_and_redirects(app, client, experts):
    with app.app_context():
        write_brief("auto1", "36")
    sign_in(client, "corp")
    token = _token(client)
    response = client.post(
        "/questions/ask",
        data={
            "csrf_token": token,
            "title": "车企回款周期",
            "industries": ["36"],
            "skills": "供应链金融、票据业务",
            "body_md": "**回款**多长？",
        },
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已请 1 位专家回答" in page
    assert "<strong>回款</strong>" in page
    # The asker sees who was asked.
    assert "周汽车" in page
    with app.app_context():
        question = db.session.query(Question).one()
        assert [skill.name for skill in question.skills] == ["供应链金融", "票据业务"]


def test_others_see_count_not_names(app, client, experts):
    with app.app_context():
        write_brief("auto1", "36")
        question = ask("corp")
        question_id = question.id
    sign_in(client, "credit")
    page = client.get(f"/questions/{question_id}").get_data(as_text=True)
    assert "已请 1 位专家回答" in page
    assert "周汽车" not in page


def test_ask_bad_input_keeps_text(app, client, experts):
    sign_in(client, "corp")
    response = client.post(
        "/questions/ask",
        data={
            "csrf_token": _token(client),
            "title": "",
            "industries": ["ZZ"],
            "skills": "跨境结算",
            "body_md": "我的说明文字",
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "标题不能为空" in page
    assert "未知的行业代码：ZZ" in page
    assert "我的说明文字" in page
    assert 'value="跨境结算"' in page


def test_ask_needs_industry_or_skill(app, client, experts):
    sign_in(client, "corp")
    response = client.post(
        "/questions/ask",
        data={"csrf_token": _token(client), "title": "一个问题"},
    )
    assert response.status_code == 400
    assert "请至少选择一个行业或填写一项专业领域" in response.get_data(as_text=True)


def test_ask_expired_token_keeps_input(app, client, experts):
    sign_in(client, "corp")
    response = client.post(
        "/questions/ask",
        data={"csrf_token": "bad", "title": "保留的标题", "industries": ["36"]},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "保留的标题" in page
    assert "表单已过期" in page
    with app.app_context():
        assert db.session.query(Question).count() == 0


def test_ask_this_person_preselected(app, client, experts):
    sign_in(client, "corp")
    expert_id = experts["credit"]
    page = client.get(f"/questions/ask?expert={expert_id}").get_data(as_text=True)
    assert "将优先请 赵授信" in page
    assert f'value="{expert_id}"' in page
    response = client.post(
        "/questions/ask",
        data={
            "csrf_token": _token(client),
            "title": "请教授信问题",
            "industries": ["36"],
            "expert": str(expert_id),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        notes = get_user("credit")
        from tests.questions.conftest import notifications_of

        assert [n.event for n in notifications_of(notes.username)] == ["question"]
    page = client.get("/questions/ask?expert=abc").get_data(as_text=True)
    assert "将优先请" not in page
    page = client.get(f"/questions/ask?expert={experts['corp']}").get_data(as_text=True)
    assert "指定的专家不存在" in page


def test_answer_and_accept_flow(app, client, experts):
    with app.app_context():
        question = ask("corp")
        question_id = question.id
    sign_in(client, "auto1")
    path = f"/questions/{question_id}"
    response = client.post(
        f"{path}/answers",
        data={"csrf_token": _token(client, path), "body_md": "看应收账款账龄。"},
    )
    assert response.status_code == 302
    assert "#answer-" in response.headers["Location"]
    with app.app_context():
        answer_id = db.session.get(Question, question_id).answers[0].id
    # Not the asker: accepting is forbidden.
    response = client.post(
        f"/questions/answers/{answer_id}/accept",
        data={"csrf_token": _token(client, path)},
    )
    assert response.status_code == 403
    client.post("/logout", data={"csrf_token": _token(client, path)})
    sign_in(client, "corp")
    page = client.get(path).get_data(as_text=True)
    assert "采纳此回答" in page
    response = client.post(
        f"/questions/answers/{answer_id}/accept",
        data={"csrf_token": _token(client, path)},
    )
    assert response.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "已采纳" in page
    assert "取消采纳" in page


def test_empty_answer_keeps_form(app, client, experts):
    with app.app_context():
        question = ask("corp")
        question_id = question.id
    sign_in(client, "auto1")
    path = f"/questions/{question_id}"
    response = client.post(
        f"{path}/answers", data={"csrf_token": _token(client, path), "body_md": "  "}
    )
    assert response.status_code == 400
    assert "回答不能为空" in response.get_data(as_text=True)


def test_post_without_csrf_rejected(app, client, experts):
    with app.app_context():
        question = ask("corp")
        question_id = question.id
        given = answer("auto1", question)
        given_id = given.id
    sign_in(client, "corp")
    response = client.post(f"/questions/answers/{given_id}/accept")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Question, question_id).status == "open"


def test_bad_ids_are_404(app, client, experts):
    sign_in(client, "corp")
    for path in (
        "/questions/999",
        "/questions/answers/999/edit",
        "/questions/99999999999999999999",
    ):
        assert client.get(path).status_code == 404, path
    path = "/questions/"
    response = client.post(
        "/questions/answers/999/useful", data={"csrf_token": _token(client, path)}
    )
    assert response.status_code == 404


def test_hidden_question_is_404_for_staff(app, client, experts):
    with app.app_context():
        question = ask("corp", title="将被隐藏的问题")
        question_id = question.id
        from kb.questions import services

        services.hide_question(db.session, get_user("admin"), question, "重复")
        db.session.commit()
    sign_in(client, "corp")
    assert client.get(f"/questions/{question_id}").status_code == 404
    assert "将被隐藏的问题" not in client.get("/questions/").get_data(as_text=True)


def test_edit_answer_author_only(app, client, experts):
    with app.app_context():
        question = ask("corp")
        given = answer("auto1", question, "原来的回答")
        given_id = given.id
    sign_in(client, "corp2")
    assert client.get(f"/questions/answers/{given_id}/edit").status_code == 403
    client.post("/logout", data={"csrf_token": _token(client, "/questions/")})
    sign_in(client, "auto1")
    path = f"/questions/answers/{given_id}/edit"
    assert "原来的回答" in client.get(path).get_data(as_text=True)
    response = client.post(
        path, data={"csrf_token": _token(client, path), "body_md": ""}
    )
    assert response.status_code == 400
    response = client.post(
        path, data={"csrf_token": _token(client, path), "body_md": "修改后的回答"}
    )
    assert response.status_code == 302
    with app.app_context():
        from kb.questions.models import Answer

        assert db.session.get(Answer, given_id).body_md == "修改后的回答"


def test_own_answer_useful_rejected(app, client, experts):
    with app.app_context():
        question = ask("corp")
        question_id = question.id
        given = answer("auto1", question)
        given_id = given.id
    sign_in(client, "auto1")
    path = f"/questions/{question_id}"
    response = client.post(
        f"/questions/answers/{given_id}/useful",
        data={"csrf_token": _token(client, path)},
        follow_redirects=True,
    )
    assert "不能给自己的回答标记有用" in response.get_data(as_text=True)


def test_list_filters_and_queue(app, client, experts):
    with app.app_context():
        write_brief("auto1", "36")
        ask("corp", title="汽车问题甲")
        ask("corp2", title="票据问题乙", industries=[], skills=["票据业务"])
    sign_in(client, "auto1")
    page = client.get("/questions/?industry=36").get_data(as_text=True)
    assert "汽车问题甲" in page
    assert "票据问题乙" not in page
    page = client.get("/questions/?industry=C").get_data(as_text=True)
    assert "汽车问题甲" in page
    page = client.get("/questions/?skill=票据业务").get_data(as_text=True)
    assert "票据问题乙" in page
    assert "汽车问题甲" not in page
    response = client.get("/questions/?status=bogus&industry=QQ")
    assert response.status_code == 400
    assert "状态" in response.get_data(as_text=True)
    queue = client.get("/questions/queue").get_data(as_text=True)
    assert "汽车问题甲" in queue
    assert "已请您回答" in queue
    assert "票据问题乙" not in queue
    index = client.get("/questions/").get_data(as_text=True)
    assert re.search(r"待我回答 <span class=\"badge\">1</span>", index)
    mine = client.get("/questions/?mine=1").get_data(as_text=True)
    assert "没有符合条件的问题" in mine


def test_answer_to_closed_question_keeps_text(app, client, experts):
    """Keep an answer typed while the asker closed the question."""
    with app.app_context():
        question = ask("corp")
        question_id = question.id
    sign_in(client, "auto1")
    path = f"/questions/{question_id}"
    token = _token(client, path)
    with app.app_context():
        question = db.session.get(Question, question_id)
        services.close(db.session, get_user("corp"), question)
        db.session.commit()
    response = client.post(
        f"{path}/answers", data={"csrf_token": token, "body_md": "先看回款周期再定额度"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "先看回款周期再定额度</textarea>" in page
    assert "您的回答没有保存" in page


def test_queue_leaves_out_own_answers(app, client, experts):
    with app.app_context():
        write_brief("auto1", "36")
        question = ask("corp", title="汽车问题丙")
        answer("auto1", question)
    sign_in(client, "auto1")
    queue = client.get("/questions/queue").get_data(as_text=True)
    assert "汽车问题丙" not in queue


def test_asker_addition_keeps_question_unanswered(app, client, experts):
    with app.app_context():
        question = ask("corp", title="汽车问题丁")
        answer("corp", question, "补充：客户是二级供应商。")
    sign_in(client, "corp2")
    page = client.get("/questions/?unanswered=1").get_data(as_text=True)
    assert "汽车问题丁" in page
