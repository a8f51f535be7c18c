"""Anonymous risk reports: what the form records, its checks and its limits."""

import json
import logging
import os
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import inspect, text

from kb.auth.models import User
from kb.extensions import db
from kb.forum import access, services
from kb.forum.models import AnonymousReportSlot, Post
from kb.notifications.services import follow
from tests.conftest import csrf_token, login
from tests.risk.conftest import BODY_MAX, Browser

REPORTER = "whistle_reporter_7781"
REPORTER_NAME = "举报人甲乙丙"
REPORTER_DEPARTMENT = "举报测试部七七八一"
TITLE = "某钢结构公司实际控制人失联"
BODY = "该公司**实际控制人**已失联一周，工资停发两个月，供应商上门讨债。"
QUESTION = "请问该公司在我行的授信余额大约多少？"
ANSWER = "据我所知约三千万元，由城东支行经办。"
CODE_RE = re.compile(r'class="receipt-code"[^>]*>([A-Z0-9-]+)<')

# Every column of the forum and notification tables that can name a person,
# limited to the rows that refer to one post.
PERSON_COLUMNS = {
    "post": "SELECT author_id, closed_by_id, hidden_by_id FROM post WHERE id = :post",
    "post_revision": "SELECT edited_by_id FROM post_revision WHERE post_id = :post",
    "reply": "SELECT author_id, hidden_by_id FROM reply WHERE post_id = :post",
    "reply_revision": (
        "SELECT reply_revision.edited_by_id FROM reply_revision"
        " JOIN reply ON reply.id = reply_revision.reply_id"
        " WHERE reply.post_id = :post"
    ),
    "risk_status_change": (
        "SELECT changed_by_id FROM risk_status_change WHERE post_id = :post"
    ),
    "post_view": "SELECT user_id FROM post_view WHERE post_id = :post",
    "useful_mark": "SELECT user_id FROM useful_mark WHERE post_id = :post",
    "notification": "SELECT user_id FROM notification WHERE post_id = :post",
    "subscription": (
        "SELECT user_id FROM subscription"
        " WHERE kind = 'post' AND target = CAST(:post AS TEXT)"
    ),
}


def report_form(token: str, **fields) -> dict:
    data = {
        "csrf_token": token,
        "title": TITLE,
        "body_md": BODY,
        "severity": "high",
        "industries": ["48", "50"],
        "tags": "实控人失联、欠薪",
    }
    data.update(fields)
    return data


def post_report(client, **fields):
    return client.post(
        "/risk/report", data=report_form(csrf_token(client, "/risk/report"), **fields)
    )


def receipt_code(page: str) -> str:
    match = CODE_RE.search(page)
    assert match, "no receipt code on the page"
    return match.group(1)


def anonymous_count(app) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(db.func.count(Post.id)).where(Post.anonymous.is_(True))
        )


@dataclass
class FiledReport:
    post_id: int
    code: str
    reporter_id: int
    issued_page: str
    receipt_page: str
    logs: str


@pytest.fixture
def filed_report(app, accounts, make_user, live_server, caplog) -> FiledReport:
    """A report filed through a real HTTP server, with every log record captured.

    The reporter follows the report's type and industry beforehand, looks at the
    board, replies to a question through the receipt page, and tries the post page.
    """
    reporter_id = make_user(REPORTER, "staff", REPORTER_DEPARTMENT, REPORTER_NAME)
    with app.app_context():
        reporter = db.session.get(User, reporter_id)
        follow(db.session, reporter, "type", "risk")
        follow(db.session, reporter, "industry", "E")
        db.session.commit()

    caplog.set_level(logging.DEBUG, logger="kb")
    caplog.set_level(logging.DEBUG, logger="werkzeug")
    browser = Browser(live_server)
    browser.login(REPORTER)
    fields = [
        ("csrf_token", browser.csrf("/risk/report")),
        ("title", TITLE),
        ("body_md", BODY),
        ("severity", "high"),
        ("industries", "48"),
        ("tags", "实控人失联、欠薪"),
    ]
    status, issued_page = browser.request("/risk/report", fields)
    assert status == 200, issued_page
    code = receipt_code(issued_page)
    with app.app_context():
        post = db.session.scalar(db.select(Post).where(Post.anonymous.is_(True)))
        services.add_reply(
            db.session, post, QUESTION, db.session.get(User, accounts["risk"]), BODY_MAX
        )
        db.session.commit()
        post_id = post.id
    status, page = browser.request("/risk/")
    assert status == 200, page
    browser.request(f"/forum/{post_id}")
    status, page = browser.request(
        "/risk/receipt",
        [("csrf_token", browser.csrf("/risk/receipt")), ("code", code.lower())],
    )
    assert status == 200, page
    token = browser.csrf("/risk/receipt")
    status, receipt_page = browser.request(
        "/risk/receipt/reply",
        [("csrf_token", token), ("code", code), ("body_md", ANSWER)],
    )
    assert status == 200, receipt_page
    logs = caplog.text + "\n".join(
        f"{record.name} {record.getMessage()} {record.args!r}"
        for record in caplog.records
    )
    return FiledReport(post_id, code, reporter_id, issued_page, receipt_page, logs)


def test_report_rows_name_no_reporter(app, filed_report):
    reporter_id = filed_report.reporter_id
    with app.app_context():
        for table, query in PERSON_COLUMNS.items():
            rows = db.session.execute(text(query), {"post": filed_report.post_id}).all()
            values = [value for row in rows for value in row]
            assert reporter_id not in values, table
        post = db.session.get(Post, filed_report.post_id)
        assert post.anonymous
        assert post.author_department_id is None
        assert post.audience == []
        answer = db.session.execute(
            text("SELECT author_id, from_reporter FROM reply WHERE body_md = :body"),
            {"body": ANSWER},
        ).one()
        assert tuple(answer) == (None, 1)
        notified = db.session.scalars(
            text("SELECT user_id FROM notification WHERE post_id = :post"),
            {"post": filed_report.post_id},
        ).all()
        # The risk officer was notified, so the notification check read rows.
        assert notified


def test_database_dump_names_no_reporter(app, filed_report):
    # The account and its department legitimately exist in these two tables.
    skipped = {"user", "department"}
    lines = []
    with app.app_context():
        for table in inspect(db.engine).get_table_names():
            if table in skipped:
                continue
            rows = db.session.execute(text(f'SELECT * FROM "{table}"'))
            lines.extend(f"{table}: {tuple(row)!r}" for row in rows)
    dump = "\n".join(lines)
    assert TITLE in dump
    assert REPORTER not in dump
    assert REPORTER_NAME not in dump
    assert REPORTER_DEPARTMENT not in dump


def test_search_index_names_no_reporter(app, client, filed_report):
    index_dir = app.config["KB_INDEX_DIR"]
    contents = b""
    for folder, _dirs, files in os.walk(index_dir):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                contents += handle.read()
    assert contents
    for secret in (REPORTER, REPORTER_NAME, REPORTER_DEPARTMENT):
        assert secret.encode() not in contents, secret
        assert secret.encode("utf-16-le") not in contents, secret
    login(client, "risk_officer")
    found = client.get("/api/v1/search?q=失联").get_json()
    assert filed_report.post_id in [hit["id"] for hit in found["results"]]


def test_logs_name_no_reporter(filed_report):
    logs = filed_report.logs
    # The server's access log works, but leaves out /risk/ requests, whose
    # address and time would point at the reporter.
    assert '"GET /forum/' in logs
    assert "/risk/" not in logs
    assert f"Created anonymous risk report {filed_report.post_id}" in logs
    assert REPORTER not in logs
    assert REPORTER_NAME not in logs
    assert REPORTER_DEPARTMENT not in logs


def assert_names_no_reporter(page: str, where: str, department: bool = True) -> None:
    """Check that ``page`` has neither the reporter's names nor, if asked, department.

    Pages with a department filter list every department, the reporter's too.
    """
    assert REPORTER not in page, where
    assert REPORTER_NAME not in page, where
    if department:
        assert REPORTER_DEPARTMENT not in page, where


def test_pages_name_no_reporter(app, client, filed_report):
    assert filed_report.code in filed_report.issued_page
    assert_names_no_reporter(filed_report.issued_page, "receipt issued")
    assert ANSWER in filed_report.receipt_page
    assert_names_no_reporter(filed_report.receipt_page, "receipt")
    login(client, "risk_officer")
    board = client.get("/risk/").get_data(as_text=True)
    assert TITLE in board
    assert_names_no_reporter(board, "board", department=False)
    row = re.search(
        rf'<tr[^>]*data-post-id="{filed_report.post_id}">(.*?)</tr>', board, re.S
    )
    assert row
    assert "匿名报告" in row.group(1)
    assert REPORTER_DEPARTMENT not in row.group(1)
    closed = client.get("/risk/?status=all").get_data(as_text=True)
    assert_names_no_reporter(closed, "board, all statuses", department=False)
    search = client.get("/api/v1/search?q=失联")
    assert filed_report.post_id in [hit["id"] for hit in search.get_json()["results"]]
    assert_names_no_reporter(
        json.dumps(search.get_json(), ensure_ascii=False), "search API"
    )
    html_search = client.get("/search/?q=失联").get_data(as_text=True)
    assert TITLE in html_search
    assert_names_no_reporter(html_search, "search page")


def test_post_page_names_no_reporter(app, client, filed_report):
    if "forum.show" not in app.view_functions:
        pytest.skip("the post page /forum/<id> is not built yet")
    login(client, "risk_officer")
    response = client.get(f"/forum/{filed_report.post_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert TITLE in page
    assert ANSWER in page
    assert_names_no_reporter(page, "post page")


def test_posts_api_names_no_reporter(app, client, filed_report):
    adapter = app.url_map.bind("localhost")
    if not adapter.test("/api/v1/posts"):
        pytest.skip("the posts API /api/v1/posts is not built yet")
    login(client, "risk_officer")
    listing = client.get("/api/v1/posts?type=risk")
    assert listing.status_code == 200
    text_body = json.dumps(listing.get_json(), ensure_ascii=False)
    assert TITLE in text_body
    assert_names_no_reporter(text_body, "posts API")
    if adapter.test(f"/api/v1/posts/{filed_report.post_id}"):
        detail = client.get(f"/api/v1/posts/{filed_report.post_id}")
        assert detail.status_code == 200
        assert_names_no_reporter(
            json.dumps(detail.get_json(), ensure_ascii=False), "post API"
        )


def test_report_audience_risk_staff_and_admins(app, accounts, make_user):
    reporter_id = make_user(REPORTER, "staff", REPORTER_DEPARTMENT, REPORTER_NAME)
    with app.app_context():
        post, _code = services.create_anonymous_report(
            db.session,
            services.PostInput(title=TITLE, body_md=BODY, severity="high"),
            BODY_MAX,
            per_hour=10,
        )
        db.session.commit()

        def sees(user_id: int) -> bool:
            return access.can_view_post(db.session.get(User, user_id), post)

        assert sees(accounts["risk"])
        assert sees(accounts["admin"])
        assert not sees(accounts["approver"])
        assert not sees(accounts["manager"])
        assert not sees(reporter_id)


def test_other_department_gets_404(app, client, accounts):
    if "forum.show" not in app.view_functions:
        pytest.skip("the post page /forum/<id> is not built yet")
    with app.app_context():
        post, _code = services.create_anonymous_report(
            db.session,
            services.PostInput(title=TITLE, body_md=BODY, severity="high"),
            BODY_MAX,
            per_hour=10,
        )
        db.session.commit()
        post_id = post.id
    login(client, "approver")
    assert client.get(f"/forum/{post_id}").status_code == 404


def test_form_shows_notice(client, accounts):
    login(client, "manager")
    response = client.get("/risk/report")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "系统不记录与您有关的任何信息" in page
    assert "风险管理部" in page
    assert "只显示这一次" in page
    assert "以本人名义发布风险信号" in page
    assert response.headers["Cache-Control"] == "no-store"


def test_anonymous_pages_hide_signed_in_name(client, accounts):
    login(client, "manager")
    page = client.get("/risk/report").get_data(as_text=True)
    assert "李明轩" not in page
    assert "李明轩" in client.get("/risk/").get_data(as_text=True)


def test_report_renders_code_once(app, client, accounts):
    login(client, "manager")
    response = post_report(client)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    code = receipt_code(page)
    assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code)
    assert "/risk/receipt" in page
    assert "请立即保存回执码" in page
    with app.app_context():
        post = db.session.scalar(db.select(Post).where(Post.anonymous.is_(True)))
        assert post.title == TITLE
        assert post.severity == "high"
        assert post.status == "open"
        assert [industry.code for industry in post.industries] == ["48", "50"]
        assert sorted(tag.name for tag in post.tags) == ["实控人失联", "欠薪"]
        assert services.post_for_receipt(db.session, code).id == post.id
        assert code not in post.receipt_digest
    again = client.get("/risk/receipt").get_data(as_text=True)
    assert code not in again


def test_empty_title_keeps_input(app, client, accounts):
    login(client, "manager")
    response = post_report(client, title="  ")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "标题不能为空" in page
    assert "供应商上门讨债" in page
    assert 'value="实控人失联、欠薪"' in page
    assert re.search(r'<option selected value="48">|<option value="48" selected', page)
    assert anonymous_count(app) == 0


def test_missing_severity_named(app, client, accounts):
    login(client, "manager")
    response = post_report(client, severity="")
    assert response.status_code == 400
    assert "请选择风险等级" in response.get_data(as_text=True)
    assert anonymous_count(app) == 0


def test_unknown_industry_named(app, client, accounts):
    login(client, "manager")
    response = post_report(client, industries=["99"])
    assert response.status_code == 400
    assert "未知的行业代码：99" in response.get_data(as_text=True)
    assert anonymous_count(app) == 0


def test_empty_body_named(app, client, accounts):
    login(client, "manager")
    response = post_report(client, body_md=" \u200b ")
    assert response.status_code == 400
    assert "正文不能为空" in response.get_data(as_text=True)


def test_missing_csrf_keeps_input(app, client, accounts):
    login(client, "manager")
    response = client.post("/risk/report", data=report_form(""))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "表单已过期或缺少安全令牌" in page
    assert "供应商上门讨债" in page
    assert anonymous_count(app) == 0


def test_report_requires_login(client):
    response = client.get("/risk/report")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_session_limit_gives_429(app, client, accounts):
    app.config["KB_ANON_REPORTS_PER_SESSION"] = 2
    login(client, "manager")
    assert post_report(client).status_code == 200
    assert post_report(client, title="第二份").status_code == 200
    token = csrf_token(client, "/risk/")
    response = client.post("/risk/report", data=report_form(token, title="第三份"))
    assert response.status_code == 429
    assert "此浏览器会话已提交 2 份匿名报告" in response.get_data(as_text=True)
    assert client.get("/risk/report").status_code == 429
    assert anonymous_count(app) == 2
    other_browser = app.test_client()
    login(other_browser, "colleague")
    assert post_report(other_browser, title="第三份").status_code == 200


def test_failed_report_not_counted_for_session(app, client, accounts):
    app.config["KB_ANON_REPORTS_PER_SESSION"] = 1
    login(client, "manager")
    assert post_report(client, title="").status_code == 400
    assert post_report(client).status_code == 200
    assert client.get("/risk/report").status_code == 429


def test_hourly_limit_keeps_input(app, client, accounts):
    app.config["KB_ANON_REPORTS_PER_HOUR"] = 2
    login(client, "manager")
    assert post_report(client, title="第一份").status_code == 200
    second = app.test_client()
    login(second, "colleague")
    assert post_report(second, title="第二份").status_code == 200
    response = post_report(client, title="第三份")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    page = response.get_data(as_text=True)
    assert "本小时匿名报告已达上限" in page
    assert 'value="第三份"' in page
    assert "供应商上门讨债" in page
    assert anonymous_count(app) == 2
    with app.app_context():
        columns = [
            column["name"]
            for column in inspect(db.engine).get_columns(
                AnonymousReportSlot.__tablename__
            )
        ]
        assert sorted(columns) == ["bucket", "count"]
        slots = db.session.execute(text("SELECT * FROM anonymous_report_slot")).all()
        assert len(slots) == 1
        assert len(slots[0]) == 2
        assert slots[0][1] == 2
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d", slots[0][0])
