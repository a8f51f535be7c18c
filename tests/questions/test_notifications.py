"""Question notifications in the inbox, the unread badge and the daily digest."""

from kb.extensions import db
from kb.notifications.digest import send
from kb.questions import services
from tests.conftest import csrf_token
from tests.forum.conftest import sign_in
from tests.notifications.test_digest import parse, parts, smtp_server  # noqa: F401
from tests.questions.conftest import (
    accept,
    answer,
    ask,
    get_user,
    notifications_of,
    write_brief,
)


def test_inbox_lists_question_notifications(app, client, experts):
    with app.app_context():
        write_brief("auto1", "36")
        question = ask("corp", title="车企回款问题", skills=["供应链金融"])
        question_id = question.id
        note_id = notifications_of("auto1")[0].id
    sign_in(client, "auto1")
    page = client.get("/notifications/").get_data(as_text=True)
    assert "车企回款问题" in page
    assert "请您回答" in page
    assert "您在这一领域有专长证据：36 汽车制造业、供应链金融" in page
    assert '<span class="badge" aria-label="未读">1</span>' in page
    response = client.get(f"/notifications/{note_id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/questions/{question_id}")
    page = client.get("/notifications/").get_data(as_text=True)
    assert 'aria-label="未读"' not in page


def test_answer_notification_links_answer(app, client, experts):
    with app.app_context():
        question = ask("corp", title="票据贴现")
        given = answer("auto2", question)
        note_id = notifications_of("corp", "answer")[0].id
        expected = f"/questions/{question.id}#answer-{given.id}"
    sign_in(client, "corp")
    page = client.get("/notifications/").get_data(as_text=True)
    assert "新回答" in page
    assert "您提出的问题有新回答" in page
    response = client.get(f"/notifications/{note_id}")
    assert response.headers["Location"].endswith(expected)


def test_hidden_content_drops_out_of_inbox(app, client, experts):
    with app.app_context():
        question = ask("corp", title="将隐藏回答的问题")
        given = answer("auto2", question)
        note_id = notifications_of("corp", "answer")[0].id
        services.hide_answer(db.session, get_user("admin"), given, "违规")
        db.session.commit()
    sign_in(client, "corp")
    page = client.get("/notifications/").get_data(as_text=True)
    assert "将隐藏回答的问题" not in page
    assert 'aria-label="未读"' not in page
    assert client.get(f"/notifications/{note_id}").status_code == 404


def test_post_notifications_still_listed(app, client, experts):
    from tests.notifications.conftest import follow, publish

    with app.app_context():
        follow("corp2", "type", "market")
        publish("corp", title="市场帖子")
        ask("corp", title="问答帖子")
        question = ask("credit", title="给 corp2 的回答")
        answer("corp", question)
        db.session.commit()
    sign_in(client, "corp2")
    page = client.get("/notifications/").get_data(as_text=True)
    assert "市场帖子" in page
    other = app.test_client()
    sign_in(other, "credit")
    page = other.get("/notifications/").get_data(as_text=True)
    assert "给 corp2 的回答" in page


def test_digest_includes_question_notifications(app, experts, smtp_server):  # noqa: F811
    with app.app_context():
        write_brief("auto1", "36")
        get_user("auto1").email = "auto1@bank.example"
        get_user("corp").email = "corp@bank.example"
        db.session.commit()
        question = ask("corp", title="车企应收账款融资")
        given = answer("auto1", question, "反向保理最常见。")
        accept("corp", given)
        hidden = ask("corp2", title="隐藏的问题")
        services.hide_question(db.session, get_user("admin"), hidden, "重复")
        db.session.commit()
        hidden_id = hidden.id
        summary = send(db.session)
        question_id = question.id
        answer_id = given.id
    assert summary.users_mailed == 2
    messages = {
        recipients[0]: parse(raw) for _sender, recipients, raw in smtp_server.messages
    }
    text, html = parts(messages["auto1@bank.example"])
    assert "【请您回答】车企应收账款融资" in text
    assert "【回答被采纳】车企应收账款融资" in text
    assert f"https://kb.bank.example/questions/{question_id}" in text
    assert "隐藏的问题" not in text
    text, html = parts(messages["corp@bank.example"])
    assert "【新回答】车企应收账款融资" in text
    assert "回答：反向保理最常见。" in text
    assert f"/questions/{question_id}#answer-{answer_id}" in html
    with app.app_context():
        # Only the hidden question's notification stays pending.
        pending = [n for n in notifications_of("auto1") if n.digested_at is None]
        assert [n.question_id for n in pending] == [hidden_id]


def test_answer_page_csrf_token_present(app, client, experts):
    with app.app_context():
        question_id = ask("corp").id
    sign_in(client, "auto1")
    assert csrf_token(client, f"/questions/{question_id}")
