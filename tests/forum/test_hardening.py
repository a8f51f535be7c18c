"""Attacks and odd input found by trying the forum as a hostile user."""

import re

from kb.extensions import db
from kb.forum.models import Post, PostRevision, Reply
from kb.notifications.models import Notification
from tests.conftest import csrf_token
from tests.forum.conftest import add_reply, sign_in, write_post


def test_image_requests_do_not_count_views(app, client, people):
    post_id = write_post(app, "corp")
    sign_in(client, "credit")
    client.get(f"/forum/{post_id}", headers={"Sec-Fetch-Dest": "image"})
    client.head(f"/forum/{post_id}")
    with app.app_context():
        assert db.session.get(Post, post_id).view_count == 0
    client.get(f"/forum/{post_id}", headers={"Sec-Fetch-Dest": "document"})
    with app.app_context():
        assert db.session.get(Post, post_id).view_count == 1


def test_image_requests_do_not_mark_notifications_read(app, client, people):
    post_id = write_post(app, "corp", signal_type="risk", severity="low")
    with app.app_context():
        note = db.session.query(Notification).filter_by(post_id=post_id).one()
        note_id = note.id
    sign_in(client, "risk")
    response = client.get(
        f"/notifications/{note_id}", headers={"Sec-Fetch-Dest": "image"}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Notification, note_id).read_at is None
    client.get(f"/notifications/{note_id}")
    with app.app_context():
        assert db.session.get(Notification, note_id).read_at is not None


def test_risk_pages_load_no_images(client, people):
    sign_in(client, "corp")
    for path in ("/risk/report", "/risk/receipt", "/risk/"):
        policy = client.get(path).headers["Content-Security-Policy"]
        assert "img-src data:;" in policy, path
        assert "https:" not in policy, path


def test_admin_edit_of_a_report_names_the_admin(app, client, people):
    from kb.forum import services

    with app.app_context():
        data = services.PostInput(title="匿名线索", body_md="原文", severity="high")
        post, _code = services.create_anonymous_report(db.session, data, 300_000, 30)
        db.session.commit()
        post_id = post.id
    sign_in(client, "admin")
    response = client.post(
        f"/forum/{post_id}/edit",
        data={
            "csrf_token": csrf_token(client, f"/forum/{post_id}/edit"),
            "title": "匿名线索",
            "signal_type": "risk",
            "severity": "low",
            "body_md": "管理员改写",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        revisions = (
            db.session.query(PostRevision)
            .filter_by(post_id=post_id)
            .order_by(PostRevision.number)
            .all()
        )
        assert [r.edited_by_id for r in revisions] == [None, people["admin"]]
    page = client.get(f"/forum/{post_id}/revisions").get_data(as_text=True)
    assert "孙管理" in page


def test_edit_cannot_make_risk_signal(app, client, people):
    post_id = write_post(app, "corp")
    sign_in(client, "corp")
    page = client.get(f"/forum/{post_id}/edit").get_data(as_text=True)
    assert 'value="risk"' not in page
    response = client.post(
        f"/forum/{post_id}/edit",
        data={
            "csrf_token": csrf_token(client, f"/forum/{post_id}/edit"),
            "title": "改成风险",
            "signal_type": "risk",
            "severity": "high",
            "visibility": "all",
            "body_md": "正文",
        },
    )
    assert response.status_code == 400
    assert "不能改为客户风险信号" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Post, post_id).signal_type == "market"


def test_odd_ids_are_bad_requests(app, client, people):
    post_id = write_post(app, "corp")
    sign_in(client, "corp")
    for query in (
        "department=%C2%B2",
        "department=99999999999999999999",
        "before=20261204183551456000-9999999999999999999",
        "after=20261204183551456000-9999999999999999999",
    ):
        assert client.get(f"/forum/?{query}").status_code == 400, query
    assert client.get("/api/v1/posts?department=%C2%B2").status_code == 400
    response = client.post(
        "/forum/new",
        data={
            "csrf_token": csrf_token(client, "/forum/new"),
            "title": "t",
            "signal_type": "market",
            "visibility": "departments",
            "audience": "²",
            "body_md": "b",
        },
    )
    assert response.status_code == 400
    assert "未知的部门：²" in response.get_data(as_text=True)
    response = client.post(
        f"/forum/{post_id}/replies",
        data={
            "csrf_token": csrf_token(client, f"/forum/{post_id}"),
            "body_md": "回复",
            "quote_of": "²",
        },
    )
    assert response.status_code == 302


def test_rejected_quote_is_explained(app, client, people):
    first = write_post(app, "corp")
    other = write_post(app, "corp", title="另一帖")
    foreign = add_reply(app, "credit", other)
    sign_in(client, "corp")
    response = client.post(
        f"/forum/{first}/replies",
        data={
            "csrf_token": csrf_token(client, f"/forum/{first}"),
            "body_md": "我的回复保留",
            "quote_of": str(foreign),
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "引用的回复不存在或已被隐藏" in page
    assert "我的回复保留" in page
    with app.app_context():
        assert db.session.query(Reply).filter_by(post_id=first).count() == 0


def test_industry_filter_is_case_blind_and_checked(app, client, people):
    post_id = write_post(app, "corp", industry_codes=["36"])
    sign_in(client, "corp2")
    page = client.get("/forum/?industry=c").get_data(as_text=True)
    assert f'href="/forum/{post_id}"' in page
    response = client.get("/forum/?industry=ZZ&type=market")
    assert response.status_code == 400
    assert "industry" in response.get_data(as_text=True)


def test_bad_cursor_keeps_the_filters(app, client, people):
    lead = write_post(app, "corp", signal_type="lead")
    market = write_post(app, "corp")
    sign_in(client, "corp2")
    response = client.get("/forum/?type=lead&before=x")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'href="/forum/{lead}"' in page
    assert f'href="/forum/{market}"' not in page


def test_spoofing_titles_and_tag_floods_are_rejected(app, client, people):
    sign_in(client, "corp")
    token = csrf_token(client, "/forum/new")
    base = {
        "csrf_token": token,
        "signal_type": "market",
        "visibility": "all",
        "body_md": "正文",
    }
    response = client.post(
        "/forum/new", data={**base, "title": "银行\u202e公告", "tags": ""}
    )
    assert response.status_code == 400
    assert "不可见的格式字符" in response.get_data(as_text=True)
    tags = "、".join(f"标签{n}" for n in range(21))
    response = client.post("/forum/new", data={**base, "title": "标题", "tags": tags})
    assert response.status_code == 400
    assert "最多 20 个标签" in response.get_data(as_text=True)


def test_newer_pages_never_repeat_posts(app, client, people):
    for number in range(25):
        write_post(app, "corp", title=f"帖子 {number}")
    sign_in(client, "corp2")
    first = client.get("/forum/").get_data(as_text=True)
    older = re.search(r'href="([^"]*before=[^"]*)"', first).group(1)
    second = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    for number in range(3):
        write_post(app, "corp", title=f"新帖 {number}")
    newer = re.search(r'href="([^"]*after=[^"]*)"', second).group(1)
    back = client.get(newer.replace("&amp;", "&")).get_data(as_text=True)
    seen = re.findall(r'href="/forum/(\d+)"', back)
    assert len(seen) == 20
    assert "新帖" not in back
    again = re.search(r'href="([^"]*after=[^"]*)"', back).group(1)
    newest = client.get(again.replace("&amp;", "&")).get_data(as_text=True)
    ids = re.findall(r'href="/forum/(\d+)"', newest)
    assert len(ids) == 3
    assert set(ids).isdisjoint(seen)


def test_widening_a_post_keeps_old_versions_private(app, client, people):
    from kb.auth.models import User
    from kb.forum import services

    post_id = write_post(
        app,
        "corp",
        title="内部评级",
        body_md="客户A内部评级 CCC",
        visibility="department",
    )
    with app.app_context():
        post = db.session.get(Post, post_id)
        author = db.session.query(User).filter_by(username="corp").one()
        data = services.PostInput(
            title="内部评级", body_md="概述（已删除敏感内容）", visibility="all"
        )
        services.update_post(db.session, post, data, author, 300_000)
        db.session.commit()
    sign_in(client, "credit")
    page = client.get(f"/forum/{post_id}/revisions").get_data(as_text=True)
    assert "已删除敏感内容" in page
    assert "CCC" not in page
    assert "另有 1 个较早的版本" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/forum/")})
    sign_in(client, "corp2")
    page = client.get(f"/forum/{post_id}/revisions").get_data(as_text=True)
    assert "CCC" in page
