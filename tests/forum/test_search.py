"""Posts and replies in the shared search, limited to what the reader may see."""

from kb.auth.models import User
from kb.extensions import db
from kb.forum import services
from kb.forum.models import Post
from tests.forum.conftest import add_reply, sign_in, write_post


def _api(client, query: str):
    response = client.get(f"/api/v1/search?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_posts_and_replies_are_found_with_their_type(app, client, people):
    post_id = write_post(
        app, "corp", title="光伏组件价格", body_md="组件报价跌破 0.8 元/W。"
    )
    reply_id = add_reply(app, "credit", post_id, "硅料库存仍在累积。")
    sign_in(client, "corp2")
    found = _api(client, "q=组件")
    assert [(r["type"], r["id"]) for r in found["results"]] == [("post", post_id)]
    found = _api(client, "q=硅料")
    assert [(r["type"], r["id"]) for r in found["results"]] == [("reply", reply_id)]
    assert found["results"][0]["url"] == f"/forum/{post_id}#reply-{reply_id}"
    # A reply is listed under its post's title, which is not indexed with it.
    assert found["results"][0]["title"] == "光伏组件价格"
    page = client.get("/search/?q=硅料").get_data(as_text=True)
    assert "回复：光伏组件价格" in page
    assert _api(client, "q=组件&type=article")["total"] == 0
    listed = _api(client, "type=post")
    assert [r["id"] for r in listed["results"]] == [post_id]


def test_department_post_never_reaches_another_department(app, client, people):
    post_id = write_post(
        app,
        "corp",
        title="内部线索：钛白粉客户扩产",
        body_md="钛白粉客户计划扩产，授信需求约两亿元。",
        visibility="department",
    )
    add_reply(app, "corp2", post_id, "钛白粉行业景气度我来补充。")
    sign_in(client, "credit")
    assert _api(client, "q=钛白粉")["total"] == 0
    page = client.get("/search/?q=钛白粉").get_data(as_text=True)
    assert "没有找到" in page
    assert "<mark>" not in page
    client.post("/logout", data={"csrf_token": _token(client)})
    sign_in(client, "corp2")
    assert _api(client, "q=钛白粉")["total"] == 2
    assert "<mark>钛白粉</mark>" in client.get("/search/?q=钛白粉").get_data(
        as_text=True
    )


def _token(client):
    from tests.conftest import csrf_token

    return csrf_token(client, "/forum/")


def test_hiding_and_narrowing_update_posts_and_replies(app, client, people):
    post_id = write_post(
        app, "corp", title="汇率避险需求增加", body_md="远期结汇询价增多。"
    )
    add_reply(app, "credit", post_id, "远期结汇的期限多在半年以内。")
    sign_in(client, "credit")
    assert _api(client, "q=远期结汇")["total"] == 2
    with app.app_context():
        post = db.session.get(Post, post_id)
        author = db.session.query(User).filter_by(username="corp").one()
        data = services.PostInput(
            title=post.title, body_md=post.body_md, visibility="department"
        )
        services.update_post(db.session, post, data, author, 300_000)
        db.session.commit()
    assert _api(client, "q=远期结汇")["total"] == 0
    with app.app_context():
        post = db.session.get(Post, post_id)
        admin = db.session.query(User).filter_by(username="admin").one()
        data.visibility = "all"
        services.update_post(db.session, post, data, admin, 300_000)
        db.session.commit()
    assert _api(client, "q=远期结汇")["total"] == 2
    with app.app_context():
        post = db.session.get(Post, post_id)
        admin = db.session.query(User).filter_by(username="admin").one()
        services.hide_post(db.session, post, admin, "重复")
        db.session.commit()
    assert _api(client, "q=远期结汇")["total"] == 0


def test_risk_staff_find_restricted_risk_signals(app, client, people):
    write_post(
        app,
        "corp",
        signal_type="risk",
        severity="high",
        title="客户法人被限制高消费",
        body_md="执行信息公开网显示法人被限制高消费。",
        visibility="department",
    )
    sign_in(client, "risk")
    assert _api(client, "q=限制高消费")["total"] == 1
    client.post("/logout", data={"csrf_token": _token(client)})
    sign_in(client, "credit")
    assert _api(client, "q=限制高消费")["total"] == 0


def test_bad_type_filter_is_a_clear_400(client, people):
    sign_in(client, "corp")
    response = client.get("/api/v1/search?q=x&type=secret")
    assert response.status_code == 400
    assert response.get_json()["field"] == "type"
    assert client.get("/search/?q=x&type=secret").status_code == 400
