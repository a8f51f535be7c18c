"""The inbox, opening a notification, and the subscriptions page."""

import re

import pytest

from kb.extensions import db
from kb.notifications.models import Notification, Subscription
from tests.conftest import csrf_token, login
from tests.notifications.conftest import (
    follow,
    get_user,
    handle_risk,
    notifications_of,
    publish,
    reply,
)


@pytest.fixture
def reader(client, app, make_user):
    """A client signed in as 李读者 of 公司银行部, with colleagues who post."""
    make_user("author", department="公司银行部", display_name="王作者")
    make_user("reader", department="公司银行部", display_name="李读者")
    make_user("other", department="授信审批部", display_name="赵审批")
    assert login(client, "reader").status_code == 302
    return client


def flashes(client) -> str:
    return client.get("/notifications/subscriptions").get_data(as_text=True)


def test_pages_require_login(client):
    for path in ("/notifications/", "/notifications/subscriptions"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_post_without_csrf_token_is_rejected(reader):
    response = reader.post("/notifications/read")
    assert response.status_code == 400


def test_inbox_lists_notifications_newest_first(reader, app):
    with app.app_context():
        follow("reader", "industry", "36")
        follow("reader", "type", "policy", "daily")
        first = publish("author", title="汽车零部件回款", industry_codes=["36"])
        publish("author", title="LPR 下调解读", signal_type="policy")
        reply_id = reply(first, "other", "同意。")
        follow("reader", "post", str(first))
        reply(first, "author", "补充说明。")
        ids = [item.id for item in notifications_of("reader")]
    page = reader.get("/notifications/").get_data(as_text=True)
    assert "汽车零部件回款" in page
    assert "LPR 下调解读" in page
    assert page.index("LPR 下调解读") < page.index("关注的行业：36 汽车制造业")
    assert "关注的信号类型：政策解读" in page
    assert "新帖子" in page
    assert "新回复" in page
    assert "关注的帖子" in page
    assert f'href="/notifications/{ids[0]}"' in page
    assert page.count("未读</span>") == len(ids)
    assert "全部标为已读" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", page)
    assert f"reply-{reply_id}" not in page
    assert len(ids) == 3


def test_inbox_badge_shows_unread_count(reader, app):
    with app.app_context():
        follow("reader", "type", "market")
        publish("author", title="第一条")
        publish("author", title="第二条")
    page = reader.get("/notifications/").get_data(as_text=True)
    assert re.search(r'<span class="badge"[^>]*>2</span>', page)


def test_inbox_paginates(reader, app):
    app.config["KB_PER_PAGE"] = 2
    with app.app_context():
        follow("reader", "type", "market")
        for number in range(3):
            publish("author", title=f"动态第{number}号")
    first = reader.get("/notifications/").get_data(as_text=True)
    assert "动态第2号" in first
    assert "动态第1号" in first
    assert "动态第0号" not in first
    second = reader.get("/notifications/?page=2").get_data(as_text=True)
    assert "动态第0号" in second
    assert "动态第2号" not in second
    assert reader.get("/notifications/?page=abc").status_code == 200
    assert reader.get("/notifications/?page=99999999999999").status_code == 200


def test_inbox_never_names_anonymous_reporter(client, app, make_user):
    make_user("whistle", department="公司银行部", display_name="举报人甲乙丙")
    make_user("riskman", department="风险管理部", display_name="钱风控")
    with app.app_context():
        handle_risk("风险管理部")
        from flask import current_app

        from kb.forum import services as forum

        follow("riskman", "user", str(get_user("whistle").id))
        data = forum.PostInput(
            title="客户疑似挪用贷款", body_md="见附件。", severity="high"
        )
        forum.create_anonymous_report(
            db.session, data, current_app.config["KB_BODY_MAX_CHARS"], per_hour=30
        )
        db.session.commit()
    assert login(client, "riskman").status_code == 302
    page = client.get("/notifications/").get_data(as_text=True)
    assert "客户疑似挪用贷款" in page
    assert "风险信号待处理" in page
    assert "举报人甲乙丙" not in page
    assert "whistle" not in page


def test_open_marks_read_and_redirects(reader, app):
    with app.app_context():
        follow("reader", "type", "market")
        post_id = publish("author")
        follow("reader", "post", str(post_id))
        reply_id = reply(post_id, "other")
        post_note, reply_note = (item.id for item in notifications_of("reader"))
    response = reader.get(f"/notifications/{post_note}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/forum/{post_id}"
    response = reader.get(f"/notifications/{reply_note}")
    assert response.headers["Location"] == f"/forum/{post_id}#reply-{reply_id}"
    with app.app_context():
        assert all(item.read_at is not None for item in notifications_of("reader"))


def test_open_foreign_notification_is_404(reader, app):
    with app.app_context():
        follow("other", "type", "market")
        publish("author")
        (foreign_id,) = (item.id for item in notifications_of("other"))
    assert reader.get(f"/notifications/{foreign_id}").status_code == 404
    assert reader.get("/notifications/999999").status_code == 404
    with app.app_context():
        assert db.session.get(Notification, foreign_id).read_at is None


def test_open_post_no_longer_visible_is_404(reader, app):
    with app.app_context():
        follow("reader", "type", "market")
        post_id = publish("author", visibility="department")
        (note_id,) = (item.id for item in notifications_of("reader"))
        from kb.forum.models import Post

        # The reader moves to another department, which may not read the post.
        get_user("reader").department_id = get_user("other").department_id
        db.session.commit()
        assert db.session.get(Post, post_id).visibility == "department"
    assert reader.get(f"/notifications/{note_id}").status_code == 404
    with app.app_context():
        assert db.session.get(Notification, note_id).read_at is None


def test_mark_all_read(reader, app):
    with app.app_context():
        follow("reader", "type", "market")
        publish("author")
        publish("author", title="第二条")
    token = csrf_token(reader, "/notifications/")
    response = reader.post("/notifications/read", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/notifications/"
    page = reader.get("/notifications/").get_data(as_text=True)
    assert "已将 2 条消息标为已读" in page
    assert "未读</span>" not in page
    with app.app_context():
        assert all(item.read_at for item in notifications_of("reader"))


def test_mark_given_ids_read(reader, app):
    with app.app_context():
        follow("reader", "type", "market")
        follow("other", "type", "market")
        publish("author")
        publish("author", title="第二条")
        first, second = (item.id for item in notifications_of("reader"))
        foreign = notifications_of("other")[0].id
    token = csrf_token(reader, "/notifications/")
    reader.post(
        "/notifications/read",
        data={"csrf_token": token, "ids": [str(first), str(foreign)]},
    )
    with app.app_context():
        assert db.session.get(Notification, first).read_at is not None
        assert db.session.get(Notification, second).read_at is None
        assert db.session.get(Notification, foreign).read_at is None


def test_mark_read_bad_id_names_value(reader, app):
    with app.app_context():
        follow("reader", "type", "market")
        publish("author")
    token = csrf_token(reader, "/notifications/")
    response = reader.post(
        "/notifications/read", data={"csrf_token": token, "ids": "12,abc"}
    )
    assert response.status_code == 302
    page = reader.get("/notifications/").get_data(as_text=True)
    assert "消息编号 &#39;abc&#39; 无效" in page
    with app.app_context():
        assert notifications_of("reader")[0].read_at is None


def test_subscriptions_page_names_targets(reader, app):
    with app.app_context():
        author_id = get_user("author").id
        visible = publish("author", title="公开的行业动态")
        hidden = publish("other", title="审批部内部线索", visibility="department")
        follow("reader", "industry", "36")
        follow("reader", "tag", "ESG", "daily")
        follow("reader", "type", "risk", "off")
        follow("reader", "user", str(author_id))
        follow("reader", "post", str(visible))
        # Followed earlier, before the post was narrowed to its department.
        db.session.add(
            Subscription(user_id=get_user("reader").id, kind="post", target=str(hidden))
        )
        db.session.commit()
    page = reader.get("/notifications/subscriptions").get_data(as_text=True)
    assert "36 汽车制造业" in page
    assert "esg" in page
    assert "客户风险信号" in page
    assert "王作者" in page
    assert "公开的行业动态" in page
    assert "不可见的帖子" in page
    assert "审批部内部线索" not in page
    assert page.count('<option value="daily" selected>') == 1
    assert page.count('<option value="off" selected>') == 1
    assert '<option value="36">C 制造业 / 36 汽车制造业</option>' in page


def test_set_delivery(reader, app):
    with app.app_context():
        subscription_id = follow("reader", "type", "market").id
    path = f"/notifications/subscriptions/{subscription_id}"
    token = csrf_token(reader, "/notifications/subscriptions")
    response = reader.post(path, data={"csrf_token": token, "delivery": "daily"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).delivery == "daily"
    assert "提醒方式已改为每日摘要" in flashes(reader)

    response = reader.post(path, data={"csrf_token": token, "delivery": "weekly"})
    assert response.status_code == 302
    assert "提醒方式 &#39;weekly&#39; 无效" in flashes(reader)
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).delivery == "daily"


def test_set_delivery_of_someone_else_is_404(reader, app):
    with app.app_context():
        subscription_id = follow("other", "type", "market").id
    token = csrf_token(reader, "/notifications/subscriptions")
    response = reader.post(
        f"/notifications/subscriptions/{subscription_id}",
        data={"csrf_token": token, "delivery": "off"},
    )
    assert response.status_code == 404
    response = reader.post(
        f"/notifications/subscriptions/{subscription_id}/delete",
        data={"csrf_token": token},
    )
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).delivery == "immediate"


def test_remove_subscription(reader, app):
    with app.app_context():
        subscription_id = follow("reader", "industry", "36").id
    token = csrf_token(reader, "/notifications/subscriptions")
    response = reader.post(
        f"/notifications/subscriptions/{subscription_id}/delete",
        data={"csrf_token": token},
    )
    assert response.status_code == 302
    assert "已取消关注 36 汽车制造业" in flashes(reader)
    with app.app_context():
        assert db.session.get(Subscription, subscription_id) is None


def test_follow_and_unfollow_through_forms(reader, app):
    token = csrf_token(reader, "/notifications/subscriptions")
    response = reader.post(
        "/notifications/follow",
        data={
            "csrf_token": token,
            "kind": "tag",
            "target": "ＥＳＧ",
            "delivery": "daily",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/notifications/subscriptions"
    assert "已关注 esg" in flashes(reader)
    with app.app_context():
        (row,) = db.session.scalars(db.select(Subscription)).all()
        assert (row.kind, row.target, row.delivery) == ("tag", "esg", "daily")

    response = reader.post(
        "/notifications/unfollow",
        data={"csrf_token": token, "kind": "tag", "target": "esg", "next": "/forum/"},
    )
    assert response.headers["Location"] == "/forum/"
    with app.app_context():
        assert db.session.scalars(db.select(Subscription)).all() == []


def test_follow_returns_to_safe_next_only(reader):
    token = csrf_token(reader, "/notifications/subscriptions")
    for unsafe in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = reader.post(
            "/notifications/follow",
            data={
                "csrf_token": token,
                "kind": "type",
                "target": "lead",
                "next": unsafe,
            },
        )
        assert response.headers["Location"] == "/notifications/subscriptions"
    response = reader.post(
        "/notifications/follow",
        data={
            "csrf_token": token,
            "kind": "type",
            "target": "lead",
            "next": "/forum/?type=lead",
        },
    )
    assert response.headers["Location"] == "/forum/?type=lead"


@pytest.mark.parametrize(
    ("kind", "target", "message"),
    [
        ("planet", "36", "关注类型 &#39;planet&#39; 无效"),
        ("industry", "ZZ", "未知的行业代码：ZZ"),
        ("type", "rumour", "信号类型 &#39;rumour&#39; 无效"),
        ("tag", "坏\u200b标签", "U+200B"),
        ("tag", "", "标签不能为空"),
    ],
)
def test_follow_bad_input_names_value(reader, app, kind, target, message):
    token = csrf_token(reader, "/notifications/subscriptions")
    response = reader.post(
        "/notifications/follow",
        data={"csrf_token": token, "kind": kind, "target": target},
    )
    assert response.status_code == 302
    page = reader.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page
    with app.app_context():
        assert db.session.scalars(db.select(Subscription)).all() == []


def test_follow_bad_tag_keeps_typed_text(reader):
    token = csrf_token(reader, "/notifications/subscriptions")
    typed = "长" * 45
    response = reader.post(
        "/notifications/follow",
        data={"csrf_token": token, "kind": "tag", "target": typed},
    )
    page = reader.get(response.headers["Location"]).get_data(as_text=True)
    assert "过长" in page
    assert f'value="{typed}"' in page


def test_unfollow_bad_kind_names_value(reader):
    token = csrf_token(reader, "/notifications/subscriptions")
    response = reader.post(
        "/notifications/unfollow",
        data={"csrf_token": token, "kind": "planet", "target": "x"},
    )
    assert response.status_code == 302
    assert "关注类型 &#39;planet&#39; 无效" in flashes(reader)


def test_follow_invisible_post_is_404(reader, app):
    with app.app_context():
        hidden = publish("other", title="审批部内部线索", visibility="department")
    token = csrf_token(reader, "/notifications/subscriptions")
    for target in (str(hidden), "987654", "x"):
        response = reader.post(
            "/notifications/follow",
            data={"csrf_token": token, "kind": "post", "target": target},
        )
        assert response.status_code == 404
        assert "审批部内部线索" not in response.get_data(as_text=True)
    with app.app_context():
        reader_id = get_user("reader").id
        rows = db.session.scalars(
            db.select(Subscription).where(Subscription.user_id == reader_id)
        ).all()
        assert rows == []


def test_follow_missing_person_is_404(reader):
    token = csrf_token(reader, "/notifications/subscriptions")
    response = reader.post(
        "/notifications/follow",
        data={"csrf_token": token, "kind": "user", "target": "424242"},
    )
    assert response.status_code == 404


def test_digest_address_is_set_checked_and_cleared(app, client, make_user):
    from kb.auth.models import User
    from kb.extensions import db
    from tests.conftest import csrf_token, login

    make_user("reader", department="公司金融部")
    login(client, "reader")
    path = "/notifications/subscriptions"
    bad = client.post(
        "/notifications/email",
        data={"csrf_token": csrf_token(client, path), "email": "wang at bank"},
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "wang at bank" in page
    assert "邮箱地址" in page
    good = client.post(
        "/notifications/email",
        data={"csrf_token": csrf_token(client, path), "email": " wang@bank.example "},
    )
    assert good.status_code == 302
    with app.app_context():
        user = db.session.query(User).filter_by(username="reader").one()
        assert user.email == "wang@bank.example"
    client.post(
        "/notifications/email",
        data={"csrf_token": csrf_token(client, path), "email": ""},
    )
    with app.app_context():
        user = db.session.query(User).filter_by(username="reader").one()
        assert user.email == ""
