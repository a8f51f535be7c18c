"""The receipt page: looking a report up by code, its history, anonymous replies."""

import re

from kb.auth.models import User
from kb.extensions import db
from kb.forum import services
from kb.forum.models import Post, Reply
from tests.conftest import csrf_token, login
from tests.risk.conftest import BODY_MAX, hide, make_anonymous, set_status

NOT_FOUND = "没有与此回执码对应的报告"


def look_up(client, code: str):
    token = csrf_token(client, "/risk/receipt")
    return client.post("/risk/receipt", data={"csrf_token": token, "code": code})


def send_reply(client, code: str, body: str):
    token = csrf_token(client, "/risk/receipt")
    return client.post(
        "/risk/receipt/reply",
        data={"csrf_token": token, "code": code, "body_md": body},
    )


def ask(app, post_id: int, user_id: int, body: str) -> int:
    with app.app_context():
        reply = services.add_reply(
            db.session,
            db.session.get(Post, post_id),
            body,
            db.session.get(User, user_id),
            BODY_MAX,
        )
        db.session.commit()
        return reply.id


def test_receipt_form_renders(client, accounts):
    login(client, "manager")
    response = client.get("/risk/receipt")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="code"' in page
    assert 'method="post"' in page
    assert response.headers["Cache-Control"] == "no-store"


def test_code_in_query_string_ignored(app, client, accounts):
    _post_id, code = make_anonymous(app, "某纺织厂停产")
    login(client, "manager")
    page = client.get(f"/risk/receipt?code={code}").get_data(as_text=True)
    assert "某纺织厂停产" not in page


def test_lookup_exact_code(app, client, accounts):
    _post_id, code = make_anonymous(app, "某纺织厂停产", "medium", ("17",))
    login(client, "manager")
    response = look_up(client, code)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "某纺织厂停产" in page
    assert "实际控制人失联" in page
    assert "风险等级：中" in page
    assert "状态：待处理" in page
    assert "纺织业" in page


def test_lookup_lower_case_without_dashes(app, client, accounts):
    _post_id, code = make_anonymous(app, "某纺织厂停产")
    login(client, "manager")
    variants = (
        code.lower().replace("-", ""),
        " " + code.lower().replace("-", " ") + " ",
    )
    for variant in variants:
        page = look_up(client, variant).get_data(as_text=True)
        assert "某纺织厂停产" in page, variant
        assert NOT_FOUND not in page, variant


def test_wrong_code_gets_message(app, client, accounts):
    make_anonymous(app, "某纺织厂停产")
    login(client, "manager")
    response = look_up(client, "ABCD-EFGH-JKMN-PQRS")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert NOT_FOUND in page
    assert 'value="ABCD-EFGH-JKMN-PQRS"' in page
    assert "某纺织厂停产" not in page


def test_empty_code_named(client, accounts):
    login(client, "manager")
    response = look_up(client, "   ")
    assert response.status_code == 400
    assert "请输入回执码" in response.get_data(as_text=True)


def test_missing_csrf_keeps_code(app, client, accounts):
    _post_id, code = make_anonymous(app, "某纺织厂停产")
    login(client, "manager")
    response = client.post("/risk/receipt", data={"code": code})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "表单已过期或缺少安全令牌" in page
    assert f'value="{code}"' in page
    assert "某纺织厂停产" not in page


def test_hidden_report_not_found(app, client, accounts):
    post_id, code = make_anonymous(app, "某纺织厂停产")
    hide(app, post_id, accounts["admin"])
    login(client, "manager")
    page = look_up(client, code).get_data(as_text=True)
    assert NOT_FOUND in page
    assert "某纺织厂停产" not in page


def test_replies_show_staff_and_reporter(app, client, accounts):
    post_id, code = make_anonymous(app, "某纺织厂停产")
    ask(app, post_id, accounts["risk"], "请补充该客户的授信品种。")
    hidden_id = ask(app, post_id, accounts["risk"], "这条回复会被隐藏。")
    with app.app_context():
        services.hide_reply(
            db.session,
            db.session.get(Reply, hidden_id),
            db.session.get(User, accounts["admin"]),
            "误发",
        )
        db.session.commit()
    login(client, "manager")
    page = look_up(client, code).get_data(as_text=True)
    assert "请补充该客户的授信品种。" in page
    assert "风控王" in page
    assert "风险管理部" in page
    assert "这条回复会被隐藏。" not in page


def test_reporter_answers_without_signing(app, client, accounts):
    post_id, code = make_anonymous(app, "某纺织厂停产")
    ask(app, post_id, accounts["risk"], "请补充该客户的授信品种。")
    login(client, "manager")
    response = send_reply(client, code.lower(), "流动资金贷款和银行承兑汇票。")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "回复已发送" in page
    assert "流动资金贷款和银行承兑汇票。" in page
    answer = re.search(r'class="item reply from-reporter"(.*?)</article>', page, re.S)
    assert answer
    assert "报告人" in answer.group(1)
    assert "李明轩" not in page
    with app.app_context():
        reply = db.session.scalar(
            db.select(Reply).where(Reply.body_md == "流动资金贷款和银行承兑汇票。")
        )
        assert reply.post_id == post_id
        assert reply.author_id is None
        assert reply.from_reporter is True
        assert [revision.edited_by_id for revision in reply.revisions] == [None]
        assert db.session.get(Post, post_id).reply_count == 2


def test_reporter_reply_notifies_risk_staff(app, client, accounts):
    post_id, code = make_anonymous(app, "某纺织厂停产")
    ask(app, post_id, accounts["risk"], "请补充该客户的授信品种。")
    login(client, "manager")
    assert send_reply(client, code, "流动资金贷款。").status_code == 200
    with app.app_context():
        notified = db.session.scalars(
            db.text(
                "SELECT user_id FROM notification WHERE post_id = :post"
                " AND event = 'reply'"
            ),
            {"post": post_id},
        ).all()
    assert notified == [accounts["risk"]]


def test_empty_reply_keeps_report(app, client, accounts):
    post_id, code = make_anonymous(app, "某纺织厂停产")
    login(client, "manager")
    response = send_reply(client, code, "   ")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "正文不能为空" in page
    assert "某纺织厂停产" in page
    with app.app_context():
        assert db.session.get(Post, post_id).reply_count == 0


def test_reply_with_wrong_code(app, client, accounts):
    make_anonymous(app, "某纺织厂停产")
    login(client, "manager")
    response = send_reply(client, "ABCD-EFGH-JKMN-PQRS", "补充情况。")
    assert response.status_code == 200
    assert NOT_FOUND in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Reply.id))) == 0


def test_reply_without_csrf_keeps_body(app, client, accounts):
    post_id, code = make_anonymous(app, "某纺织厂停产")
    login(client, "manager")
    response = client.post(
        "/risk/receipt/reply", data={"code": code, "body_md": "补充情况。"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "表单已过期或缺少安全令牌" in page
    assert "补充情况。" in page
    with app.app_context():
        assert db.session.get(Post, post_id).reply_count == 0


def test_status_history_visible(app, client, accounts):
    post_id, code = make_anonymous(app, "某纺织厂停产")
    set_status(app, post_id, accounts["risk"], "handling", "已转交城东支行核实")
    set_status(app, post_id, accounts["risk"], "closed", "已压降敞口并追加担保")
    login(client, "manager")
    page = look_up(client, code).get_data(as_text=True)
    history = page[page.index("处理记录") :]
    assert "待处理 → 处理中" in history
    assert "已转交城东支行核实" in history
    assert "处理中 → 已关闭" in history
    assert "状态：已关闭" in page
    outcome = re.search(r'class="abstract outcome">(.*?)</div>', page, re.S)
    assert outcome
    assert "已压降敞口并追加担保" in outcome.group(1)
    assert re.search(r"<time>\d{4}-\d\d-\d\d \d\d:\d\d</time>", history)


def test_lookup_limit_gives_429(app, client, accounts):
    app.config["KB_RECEIPT_LOOKUPS_PER_HOUR"] = 3
    _post_id, code = make_anonymous(app, "某纺织厂停产")
    login(client, "manager")
    assert look_up(client, "ABCD-EFGH-JKMN-PQRS").status_code == 200
    assert look_up(client, "ABCD-EFGH-JKMN-PQRT").status_code == 200
    assert look_up(client, code).status_code == 200
    response = look_up(client, code)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    page = response.get_data(as_text=True)
    assert "回执码查询次数过多（每小时 3 次）" in page
    assert "某纺织厂停产" not in page
    assert send_reply(client, code, "补充情况。").status_code == 429
    other_browser = app.test_client()
    login(other_browser, "colleague")
    assert "某纺织厂停产" in look_up(other_browser, code).get_data(as_text=True)


def test_replies_count_as_lookups(app, client, accounts):
    app.config["KB_RECEIPT_LOOKUPS_PER_HOUR"] = 2
    _post_id, code = make_anonymous(app, "某纺织厂停产")
    login(client, "manager")
    assert look_up(client, code).status_code == 200
    assert send_reply(client, code, "补充情况。").status_code == 200
    assert send_reply(client, code, "再补充。").status_code == 429


def test_receipt_requires_login(client):
    response = client.post("/risk/receipt", data={"code": "ABCD"})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
