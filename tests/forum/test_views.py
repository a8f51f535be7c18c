"""Forum pages: lists and paging, writing, replying, marks, moderation, status."""

import re
from datetime import datetime

from sqlalchemy import update

from kb.extensions import db
from kb.forum.models import Post, Reply
from tests.conftest import csrf_token
from tests.forum.conftest import add_reply, sign_in, write_post

POST_LINK = re.compile(r'href="/forum/(\d+)"')


def _ids(page_html: str) -> list[int]:
    return [int(i) for i in POST_LINK.findall(page_html)]


def _form(client, path="/forum/new", **fields):
    data = {
        "csrf_token": csrf_token(client, path),
        "title": "同业动态：贴现利率下行",
        "signal_type": "market",
        "severity": "",
        "visibility": "all",
        "tags": "票据、利率",
        "body_md": "本周国股银票转贴现利率降至 1.2%。",
    }
    data.update(fields)
    return client.post(path, data=data)


def test_pages_require_sign_in(client, people):
    response = client.get("/forum/")
    assert response.status_code == 302
    assert "/login" in response.location


def test_post_a_signal_and_read_it(client, people):
    sign_in(client, "corp")
    response = _form(client, industries=["66"])
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "同业动态：贴现利率下行" in page
    assert "1.2%" in page
    assert "#票据" in page
    assert "货币金融服务" in page
    assert "王公司" in page
    assert "公司金融部" in page


def test_bad_input_is_named_and_kept(client, people):
    sign_in(client, "corp")
    response = _form(
        client,
        title="",
        body_md="我写的正文不能丢",
        signal_type="risk",
        visibility="departments",
        tags="好标签、a\u200bb",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "标题不能为空" in page
    assert "请选择风险等级" in page
    assert "请至少选择一个可以查看的部门" in page
    assert "我写的正文不能丢" in page
    assert "好标签" in page


def test_expired_form_keeps_the_text(client, people):
    sign_in(client, "corp")
    response = client.post(
        "/forum/new",
        data={"csrf_token": "stale", "title": "标题保留", "body_md": "正文保留"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "标题保留" in page
    assert "正文保留" in page


def test_paging_with_shared_timestamps(app, client, people):
    ids = [write_post(app, "corp", title=f"同一时刻 {n}") for n in range(47)]
    with app.app_context():
        db.session.execute(update(Post).values(created_at=datetime(2026, 12, 1, 9, 30)))
        db.session.commit()
    sign_in(client, "corp2")
    seen, path = [], "/forum/"
    while path:
        page = client.get(path).get_data(as_text=True)
        seen.extend(_ids(page))
        if len(seen) == 20:
            # A post written while someone pages must not shift the next page.
            write_post(app, "corp", title="翻页时新发的帖子")
        older = re.search(r'href="([^"]*before=[^"]*)" rel="next"', page)
        path = older.group(1).replace("&amp;", "&") if older else None
    assert len(seen) == len(set(seen)) == 47
    assert sorted(seen) == ids
    assert seen == sorted(ids, reverse=True)


def test_newer_link_goes_back_without_repeats(app, client, people):
    for n in range(25):
        write_post(app, "corp", title=f"帖子 {n}")
    sign_in(client, "corp2")
    first = _ids(client.get("/forum/").get_data(as_text=True))
    page = client.get("/forum/").get_data(as_text=True)
    older_url = re.search(r'href="([^"]*before=[^"]*)"', page).group(1)
    second_page = client.get(older_url.replace("&amp;", "&")).get_data(as_text=True)
    assert set(_ids(second_page)).isdisjoint(first)
    newer_url = re.search(r'href="([^"]*after=[^"]*)"', second_page).group(1)
    back = client.get(newer_url.replace("&amp;", "&")).get_data(as_text=True)
    assert _ids(back) == first


def test_bad_cursor_and_filters_are_reported_not_500(client, people):
    sign_in(client, "corp")
    for query in ("before=yesterday", "after=1-1", "type=rumour", "department=abc"):
        response = client.get(f"/forum/?{query}")
        assert response.status_code == 400, query
        assert query.split("=")[0] in response.get_data(as_text=True)


def test_lists_filter_by_type_industry_tag_department_unanswered(app, client, people):
    market = write_post(app, "corp", industry_codes=["31"], tags=["钢铁"])
    lead = write_post(app, "credit", signal_type="lead", industry_codes=["44"])
    answered = write_post(app, "credit", title="已回复")
    add_reply(app, "corp", answered)
    sign_in(client, "corp2")
    assert _ids(client.get("/forum/?type=lead").get_data(as_text=True)) == [lead]
    # A section letter finds posts on its divisions.
    assert _ids(client.get("/forum/?industry=C").get_data(as_text=True)) == [market]
    assert _ids(
        client.get("/forum/?tag=%E9%92%A2%E9%93%81").get_data(as_text=True)
    ) == [market]
    with app.app_context():
        credit_department = db.session.get(Post, lead).author_department_id
    listed = _ids(
        client.get(f"/forum/?department={credit_department}").get_data(as_text=True)
    )
    assert listed == [answered, lead]
    unanswered = _ids(client.get("/forum/?unanswered=1").get_data(as_text=True))
    assert answered not in unanswered
    assert market in unanswered


def test_reply_with_a_quote_and_edit_history(app, client, people):
    post_id = write_post(app, "corp")
    first = add_reply(app, "credit", post_id, "库存数据来自哪里？")
    sign_in(client, "corp")
    page = client.get(f"/forum/{post_id}?quote={first}").get_data(as_text=True)
    assert f'value="{first}"' in page
    response = client.post(
        f"/forum/{post_id}/replies",
        data={
            "csrf_token": csrf_token(client, f"/forum/{post_id}"),
            "body_md": "来自客户的进销存报表。",
            "quote_of": str(first),
        },
    )
    assert response.status_code == 302
    page = client.get(f"/forum/{post_id}").get_data(as_text=True)
    assert "库存数据来自哪里？" in page
    assert "来自客户的进销存报表。" in page
    with app.app_context():
        mine = db.session.query(Reply).filter_by(author_id=people["corp"]).one()
        assert mine.quote_of_id == first
        mine_id = mine.id
    response = client.post(
        f"/forum/replies/{mine_id}/edit",
        data={
            "csrf_token": csrf_token(client, f"/forum/replies/{mine_id}/edit"),
            "body_md": "来自客户的进销存报表和增值税发票。",
        },
    )
    assert response.status_code == 302
    history = client.get(f"/forum/replies/{mine_id}/revisions").get_data(as_text=True)
    assert "来自客户的进销存报表。" in history
    assert "增值税发票" in history
    # Someone else's reply cannot be edited.
    assert client.get(f"/forum/replies/{first}/edit").status_code == 403


def test_empty_reply_comes_back_with_a_message(app, client, people):
    post_id = write_post(app, "corp")
    sign_in(client, "credit")
    response = client.post(
        f"/forum/{post_id}/replies",
        data={"csrf_token": csrf_token(client, f"/forum/{post_id}"), "body_md": " "},
    )
    assert response.status_code == 400
    assert "正文不能为空" in response.get_data(as_text=True)


def test_post_edit_revisions_and_permissions(app, client, people):
    post_id = write_post(app, "corp", title="初稿标题")
    sign_in(client, "corp")
    response = _form(
        client, path=f"/forum/{post_id}/edit", title="修改后的标题", tags="钢铁"
    )
    assert response.status_code == 302
    page = client.get(f"/forum/{post_id}/revisions").get_data(as_text=True)
    assert "初稿标题" in page
    assert "修改后的标题" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/forum/")})
    sign_in(client, "corp2")
    assert client.get(f"/forum/{post_id}/edit").status_code == 403


def test_useful_and_views(app, client, people):
    post_id = write_post(app, "corp")
    sign_in(client, "credit")
    client.get(f"/forum/{post_id}")
    client.get(f"/forum/{post_id}")
    token = csrf_token(client, f"/forum/{post_id}")
    client.post(f"/forum/{post_id}/useful", data={"csrf_token": token})
    page = client.get(f"/forum/{post_id}").get_data(as_text=True)
    assert "有用 · 1" in page
    assert "1 次阅读" in page
    client.post(f"/forum/{post_id}/useful", data={"csrf_token": token})
    assert "有用 · 0" in client.get(f"/forum/{post_id}").get_data(as_text=True)


def test_state_changes_need_the_csrf_token(app, client, people):
    post_id = write_post(app, "corp")
    sign_in(client, "credit")
    assert client.post(f"/forum/{post_id}/useful").status_code == 400
    with app.app_context():
        assert db.session.get(Post, post_id).useful_count == 0


def test_admin_hides_a_post_and_others_get_404(app, client, people):
    post_id = write_post(app, "corp")
    sign_in(client, "admin")
    token = csrf_token(client, f"/forum/{post_id}")
    response = client.post(f"/forum/{post_id}/hide", data={"csrf_token": token})
    assert "请填写隐藏原因" in client.get(response.location).get_data(as_text=True)
    client.post(
        f"/forum/{post_id}/hide", data={"csrf_token": token, "reason": "涉及客户隐私"}
    )
    page = client.get(f"/forum/{post_id}").get_data(as_text=True)
    assert "涉及客户隐私" in page
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, "corp")
    assert client.get(f"/forum/{post_id}").status_code == 404
    assert post_id not in _ids(client.get("/forum/").get_data(as_text=True))


def test_risk_staff_move_a_signal_along(app, client, people):
    post_id = write_post(app, "corp", signal_type="risk", severity="high")
    sign_in(client, "risk")
    token = csrf_token(client, f"/forum/{post_id}")
    response = client.post(
        f"/forum/{post_id}/status",
        data={"csrf_token": token, "status": "closed", "note": ""},
    )
    assert response.status_code == 400
    assert "关闭风险信号时请填写处理结果" in response.get_data(as_text=True)
    client.post(
        f"/forum/{post_id}/status",
        data={"csrf_token": token, "status": "closed", "note": "客户已还款"},
    )
    page = client.get(f"/forum/{post_id}").get_data(as_text=True)
    assert "客户已还款" in page
    assert "已关闭" in page
    assert "钱风险" in page
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, "corp2")
    response = client.post(
        f"/forum/{post_id}/status",
        data={
            "csrf_token": csrf_token(client, f"/forum/{post_id}"),
            "status": "open",
        },
    )
    assert response.status_code == 403
