"""CSRF protection of every state-changing endpoint in ``app.url_map``.

Each case signs in as a user allowed to use the endpoint, on the demo data, and
posts a body that succeeds with the session's CSRF token. The same body without
a token, with a garbage token, and with a valid token of another browser
session must be rejected and leave every table unchanged.
"""

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from kb.articles.models import Article
from kb.auth.models import User
from kb.auth.services import create_token
from kb.clients.models import Client
from kb.demo import DEMO_PASSWORD, load_demo
from kb.extensions import db
from kb.forum.models import Post, Reply
from kb.notifications.models import Notification, Subscription
from kb.questions.models import Answer, Question
from kb.training.models import Attachment, Course, Lecture, Lesson
from kb.web import WRITING_GET_ENDPOINTS
from tests.clients.factories import make_code
from tests.conftest import csrf_token

WRITING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Writing endpoints that take no CSRF token, each with the reason. None today:
# the sign-in form and the language switch are protected like every other form.
EXEMPT: dict[str, str] = {}

CSRF_MESSAGE = "安全令牌"


@dataclass
class Case:
    """One endpoint: who posts, where, and a body that succeeds with a token."""

    endpoint: str
    user: str | None
    build: Callable[[], tuple[str, dict]]
    # Requests sent with a valid token first, so the case has something to undo.
    prepare: Callable[[], list[tuple[str, dict]]] | None = None
    files: Callable[[], dict] | None = None
    # How success shows when the request changes no table.
    succeeded: Callable[[object], bool] | None = None
    # Who sends the ``prepare`` requests, when not ``user``.
    prepare_user: str | None = None


def _id(statement) -> int:
    value = db.session.scalar(statement)
    assert value is not None, f"demo data has no row for {statement}"
    return value


def _user_id(username: str) -> int:
    return _id(sa.select(User.id).where(User.username == username))


def _post_id() -> int:
    return _id(
        sa.select(Post.id)
        .where(Post.visibility == "all", Post.signal_type != "risk")
        .order_by(Post.id)
    )


def _reply_id() -> int:
    return _id(
        sa.select(Reply.id).where(Reply.post_id == _post_id()).order_by(Reply.id)
    )


def _question_id() -> int:
    return _id(
        sa.select(Question.id)
        .join(Answer, Answer.question_id == Question.id)
        .order_by(Question.id)
    )


def _answer_id() -> int:
    return _id(
        sa.select(Answer.id)
        .where(Answer.question_id == _question_id())
        .order_by(Answer.id.desc())
    )


def _course_id() -> int:
    return _id(sa.select(Course.id).join(Lesson).order_by(Course.id))


def _lesson_id() -> int:
    return _id(
        sa.select(Lesson.id).where(Lesson.course_id == _course_id()).order_by(Lesson.id)
    )


def _lecture_id() -> int:
    return _id(
        sa.select(Lecture.id)
        .where(Lecture.cancelled.is_(False))
        .order_by(Lecture.starts_at.desc())
    )


def _client_codes() -> list[str]:
    return list(db.session.scalars(sa.select(Client.credit_code).order_by(Client.id)))


def _docx() -> bytes:
    from kb.demo import _docx_bytes

    return _docx_bytes(["授信审批要点：现金流覆盖率。"])


def _import_csv() -> bytes:
    header = "客户名称,统一社会信用代码,所属行业,客户经理"
    return f"{header}\r\n新导入测试有限公司,{make_code(880001)},36,manager\r\n".encode()


def _post_form(**overrides) -> dict:
    data = {
        "title": "铜价波动对电缆企业的影响",
        "signal_type": "market",
        "visibility": "all",
        "body_md": "沪铜主力合约本周上涨 3%。",
    }
    data.update(overrides)
    return data


CASES: dict[str, list[Case]] = {
    "auth": [
        Case(
            "auth.login",
            None,
            lambda: ("/login", {"username": "manager", "password": DEMO_PASSWORD}),
            succeeded=lambda response: response.status_code == 302,
        ),
        Case(
            "auth.set_language",
            "approver",
            lambda: ("/language", {"locale": "en", "next": "/"}),
        ),
        Case("auth.logout", "manager", lambda: ("/logout", {})),
    ],
    "articles": [
        Case(
            "articles.create",
            "admin",
            lambda: (
                "/briefs/new",
                {
                    "title": "新能源汽车出口季度简报",
                    "summary": "出口同比增长。",
                    "published_on": "2026-01-05",
                    "industries": "36",
                    "body_md": "一季度出口量同比增长 20%。",
                },
            ),
        ),
        Case(
            "articles.edit",
            "admin",
            lambda: (
                f"/briefs/{_id(sa.select(Article.id).order_by(Article.id))}/edit",
                {
                    "title": "修订后的简报标题",
                    "summary": "摘要。",
                    "published_on": "2026-01-05",
                    "industries": "36",
                    "body_md": "修订后的正文。",
                },
            ),
        ),
        Case(
            "articles.useful",
            "manager",
            lambda: (
                f"/briefs/{_id(sa.select(Article.id).order_by(Article.id))}/useful",
                {},
            ),
        ),
    ],
    "forum": [
        Case("forum.create", "manager", lambda: ("/forum/new", _post_form())),
        Case(
            "forum.edit",
            "admin",
            lambda: (f"/forum/{_post_id()}/edit", _post_form(title="改过的标题")),
        ),
        Case(
            "forum.reply",
            "manager",
            lambda: (f"/forum/{_post_id()}/replies", {"body_md": "同意，关注库存。"}),
        ),
        Case("forum.useful", "manager", lambda: (f"/forum/{_post_id()}/useful", {})),
        Case(
            "forum.reply_useful",
            "manager",
            lambda: (f"/forum/replies/{_reply_id()}/useful", {}),
        ),
        Case(
            "forum.edit_reply",
            "admin",
            lambda: (f"/forum/replies/{_reply_id()}/edit", {"body_md": "改过的回复"}),
        ),
        Case(
            "forum.hide_reply",
            "admin",
            lambda: (f"/forum/replies/{_reply_id()}/hide", {"reason": "重复"}),
        ),
        Case(
            "forum.unhide_reply",
            "admin",
            lambda: (f"/forum/replies/{_reply_id()}/unhide", {}),
        ),
        Case(
            "forum.hide",
            "admin",
            lambda: (f"/forum/{_post_id()}/hide", {"reason": "重复"}),
        ),
        Case("forum.unhide", "admin", lambda: (f"/forum/{_post_id()}/unhide", {})),
        Case(
            "forum.change_status",
            "expert_risk",
            lambda: (
                f"/forum/{_id(sa.select(Post.id).where(Post.signal_type == 'risk'))}"
                "/status",
                {"status": "handling", "note": "持续跟踪"},
            ),
        ),
    ],
    "risk": [
        Case(
            "risk.report",
            "manager",
            lambda: (
                "/risk/report",
                {
                    "title": "某客户延迟支付货款",
                    "severity": "high",
                    "body_md": "两笔逾期。",
                },
            ),
        ),
        Case(
            "risk.receipt",
            "manager",
            lambda: ("/risk/receipt", {"code": "CODE"}),
            succeeded=lambda response: "状态" in response.get_data(as_text=True),
        ),
        Case(
            "risk.receipt_reply",
            "manager",
            lambda: ("/risk/receipt/reply", {"code": "CODE", "body_md": "补充材料"}),
        ),
    ],
    "notifications": [
        Case(
            "notifications.follow",
            "manager",
            lambda: ("/notifications/follow", {"kind": "industry", "target": "36"}),
        ),
        Case(
            "notifications.set_delivery",
            "manager",
            lambda: (
                f"/notifications/subscriptions/{_subscription_id('manager')}",
                {"delivery": "off"},
            ),
        ),
        Case(
            "notifications.unfollow",
            "manager",
            lambda: ("/notifications/unfollow", {"kind": "industry", "target": "36"}),
            prepare=lambda: [
                ("/notifications/follow", {"kind": "industry", "target": "36"})
            ],
        ),
        Case(
            "notifications.remove",
            "manager",
            lambda: (
                f"/notifications/subscriptions/{_subscription_id('manager')}/delete",
                {},
            ),
        ),
        Case(
            "notifications.set_email",
            "manager",
            lambda: ("/notifications/email", {"email": "new.manager@bank.example"}),
        ),
        Case(
            "notifications.mark_read",
            "manager",
            lambda: ("/notifications/read", {}),
            prepare=lambda: [
                (f"/forum/{_post_id()}/replies", {"body_md": "请经理关注。"})
            ],
            prepare_user="admin",
        ),
    ],
    "people": [
        Case(
            "people.edit",
            "manager",
            lambda: (
                "/people/me",
                {
                    "headline": "制造业客户经理",
                    "bio_md": "负责制造业客户。",
                    "industry_value": "36",
                    "industry_level": "2",
                },
            ),
        ),
        Case(
            "people.endorse",
            "admin",
            lambda: (
                f"/people/{_expert_with_industry()[0]}/endorse",
                {"industry_code": _expert_with_industry()[1]},
            ),
        ),
    ],
    "questions": [
        Case(
            "questions.ask",
            "manager",
            lambda: (
                "/questions/ask",
                {
                    "title": "光伏组件价格下行对授信的影响？",
                    "industries": "38",
                    "body_md": "请专家谈谈。",
                },
            ),
        ),
        Case(
            "questions.answer",
            "expert_energy",
            lambda: (f"/questions/{_question_id()}/answers", {"body_md": "看现金流。"}),
        ),
        Case(
            "questions.edit_answer",
            "admin",
            lambda: (f"/questions/answers/{_answer_id()}/edit", {"body_md": "改过的"}),
        ),
        Case(
            "questions.useful",
            "manager",
            lambda: (f"/questions/answers/{_answer_id()}/useful", {}),
        ),
        Case(
            "questions.accept",
            "admin",
            lambda: (f"/questions/answers/{_answer_id()}/accept", {}),
        ),
        Case(
            "questions.unaccept",
            "admin",
            lambda: (f"/questions/answers/{_answer_id()}/unaccept", {}),
        ),
        Case(
            "questions.hide_answer",
            "admin",
            lambda: (f"/questions/answers/{_answer_id()}/hide", {"reason": "重复"}),
        ),
        Case(
            "questions.unhide_answer",
            "admin",
            lambda: (f"/questions/answers/{_answer_id()}/unhide", {}),
        ),
        Case(
            "questions.close",
            "admin",
            lambda: (f"/questions/{_question_id()}/close", {}),
        ),
        Case(
            "questions.reopen",
            "admin",
            lambda: (f"/questions/{_question_id()}/reopen", {}),
        ),
        Case(
            "questions.hide",
            "admin",
            lambda: (f"/questions/{_question_id()}/hide", {"reason": "重复"}),
        ),
        Case(
            "questions.unhide",
            "admin",
            lambda: (f"/questions/{_question_id()}/unhide", {}),
        ),
    ],
    "training": [
        Case(
            "training.create_course",
            "admin",
            lambda: (
                "/training/courses/new",
                {"title": "票据业务入门", "description_md": "票据基础。"},
            ),
        ),
        Case(
            "training.edit_course",
            "admin",
            lambda: (
                f"/training/courses/{_course_id()}/edit",
                {"title": "改过的课程", "description_md": "新的说明。"},
            ),
        ),
        Case(
            "training.add_lesson",
            "admin",
            lambda: (
                f"/training/courses/{_course_id()}/lessons/new",
                {"title": "新课时", "body_md": "课时内容。"},
            ),
        ),
        Case(
            "training.edit_lesson",
            "admin",
            lambda: (
                f"/training/lessons/{_lesson_id()}/edit",
                {"title": "改过的课时", "body_md": "新内容。"},
            ),
        ),
        Case(
            "training.move_lesson",
            "admin",
            lambda: (f"/training/lessons/{_lesson_id()}/move", {"direction": "down"}),
        ),
        Case(
            "training.mark_done",
            "manager",
            lambda: (f"/training/lessons/{_lesson_id()}/done", {}),
        ),
        Case(
            "training.undo_done",
            "manager",
            lambda: (f"/training/lessons/{_lesson_id()}/undo", {}),
        ),
        Case(
            "training.upload_attachment",
            "admin",
            lambda: (f"/training/courses/{_course_id()}/attachments/new", {}),
            files=lambda: {"file": (io.BytesIO(_docx()), "要点.docx")},
        ),
        Case(
            "training.delete_attachment",
            "admin",
            lambda: (
                f"/training/attachments/{_id(sa.select(Attachment.id).order_by(Attachment.id))}"
                "/delete",
                {},
            ),
        ),
        Case(
            "training.delete_lesson",
            "admin",
            lambda: (f"/training/lessons/{_lesson_id()}/delete", {}),
        ),
        Case(
            "training.create_lecture",
            "admin",
            lambda: (
                "/training/lectures/new",
                {
                    "title": "反洗钱案例讲座",
                    "starts_at": "2030-03-01T10:00",
                    "ends_at": "2030-03-01T11:00",
                    "place": "总行 3 楼会议室",
                    "speaker_name": "合规部",
                },
            ),
        ),
        Case(
            "training.edit_lecture",
            "admin",
            lambda: (
                f"/training/lectures/{_lecture_id()}/edit",
                {
                    "title": "改期后的讲座",
                    "starts_at": "2030-04-01T10:00",
                    "ends_at": "2030-04-01T11:00",
                    "place": "总行 5 楼",
                    "speaker_name": "合规部",
                },
            ),
        ),
        Case(
            "training.sign_up",
            "manager",
            lambda: (f"/training/lectures/{_lecture_id()}/signup", {}),
        ),
        Case(
            "training.withdraw",
            "manager",
            lambda: (f"/training/lectures/{_lecture_id()}/withdraw", {}),
        ),
        Case(
            "training.cancel_lecture",
            "admin",
            lambda: (f"/training/lectures/{_lecture_id()}/cancel", {}),
        ),
    ],
    "clients": [
        Case(
            "clients_admin.import_file",
            "admin",
            lambda: ("/admin/clients/import", {}),
            files=lambda: {"file": (io.BytesIO(_import_csv()), "crm.csv")},
        ),
        Case(
            "clients_admin.merge",
            "admin",
            lambda: (
                f"/admin/clients/{_client_codes()[0]}/merge",
                {"target": _client_codes()[1], "confirm": "y"},
            ),
        ),
        Case(
            "clients_admin.delete",
            "admin",
            lambda: (f"/admin/clients/{_client_codes()[0]}/delete", {"confirm": "y"}),
        ),
    ],
    "users": [
        Case(
            "users.index",
            "admin",
            lambda: (
                "/admin/users/",
                {
                    "username": "newcomer",
                    "display_name": "新同事",
                    "department": "公司金融部",
                    "email": "newcomer@bank.example",
                    "role": "staff",
                    "password": "a-long-enough-password",
                },
            ),
        ),
    ],
}


def _subscription_id(username: str) -> int:
    return _id(
        sa.select(Subscription.id)
        .where(Subscription.user_id == _user_id(username))
        .order_by(Subscription.id)
    )


def _expert_with_industry() -> tuple[int, str]:
    from kb.experts.models import ExpertiseIndustry

    row = db.session.execute(
        sa.select(ExpertiseIndustry.user_id, ExpertiseIndustry.industry_code)
        .where(ExpertiseIndustry.user_id != _user_id("admin"))
        .order_by(ExpertiseIndustry.user_id)
    ).first()
    assert row is not None
    return row[0], row[1]


def snapshot(app) -> dict[str, list[str]]:
    """Every row of every table, to compare before and after a request."""
    with app.app_context():
        return {
            table.name: sorted(
                repr(row) for row in db.session.execute(sa.select(table))
            )
            for table in db.metadata.sorted_tables
        }


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def sign_in(app, username: str | None):
    browser = app.test_client()
    if username is not None:
        token = csrf_token(browser)
        response = browser.post(
            "/login",
            data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, username
    return browser


@pytest.fixture
def demo_app(app):
    with app.app_context():
        load_demo(db.session, app.config["KB_BODY_MAX_CHARS"], app.instance_path)
        db.session.commit()
    return app


def _receipt_code(app, browser) -> str:
    """File an anonymous report in ``browser`` and return its receipt code."""
    response = browser.post(
        "/risk/report",
        data={
            "title": "某客户涉诉",
            "severity": "medium",
            "body_md": "法院公告。",
            "csrf_token": csrf_token(browser, "/risk/report"),
        },
    )
    match = re.search(r'class="receipt-code"[^>]*>([^<]+)<', response.get_data(True))
    assert match, response.get_data(as_text=True)[:500]
    return match.group(1)


def _send(browser, url, data, files, token):
    body = dict(data)
    if token is not None:
        body["csrf_token"] = token
    if files is not None:
        body.update(files())
        return browser.post(url, data=body, content_type="multipart/form-data")
    return browser.post(url, data=body)


def _bad_tokens(app) -> list[tuple[str, str | None]]:
    other_browser = app.test_client()
    return [
        ("missing token", None),
        ("garbage token", "not-a-token"),
        ("token of another session", csrf_token(other_browser)),
    ]


def test_every_writing_endpoint_covered(app):
    writing = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.methods & WRITING_METHODS
    }
    covered = {case.endpoint for cases in CASES.values() for case in cases}
    assert sorted(writing - covered - set(EXEMPT)) == []
    assert sorted((covered | set(EXEMPT)) - writing) == []
    assert sorted(covered & set(EXEMPT)) == []


# Each group loads the demo data once because that takes seconds. The cases of
# a group run in order on one database, so a case may undo the one before it.
GROUPS = {
    "auth-articles-forum-risk": ["auth", "articles", "forum", "risk"],
    "notifications-people-questions": ["notifications", "people", "questions"],
    "training-clients-users": ["training", "clients", "users"],
}


def test_groups_hold_every_case():
    grouped = [name for names in GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(CASES)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_csrf_token_required(demo_app, group):
    app = demo_app
    receipt = None
    browsers = {}
    for case in [case for name in GROUPS[group] for case in CASES[name]]:
        # Signing in, out or switching language changes the browser for later cases.
        if case.user not in browsers or case.endpoint.startswith("auth."):
            browsers[case.user] = sign_in(app, case.user)
        browser = browsers.pop(case.user)
        if not case.endpoint.startswith("auth."):
            browsers[case.user] = browser
        if case.prepare is not None:
            preparer = sign_in(app, case.prepare_user or case.user)
            with app.app_context():
                steps = case.prepare()
            for url, data in steps:
                response = _send(preparer, url, data, None, csrf_token(preparer, "/"))
                assert response.status_code in (200, 302), (case.endpoint, url)
        with app.app_context():
            url, data = case.build()
        if data.get("code") == "CODE":
            receipt = receipt or _receipt_code(app, browser)
            data = {**data, "code": receipt}

        for label, token in _bad_tokens(app):
            before = snapshot(app)
            response = _send(browser, url, data, case.files, token)
            # The CSRF error page, or the form shown again with its token error.
            assert response.status_code == 400, (case.endpoint, label)
            assert CSRF_MESSAGE in response.get_data(as_text=True), case.endpoint
            assert changed_tables(before, snapshot(app)) == [], (case.endpoint, label)

        before = snapshot(app)
        token = csrf_token(browser, "/login" if case.user is None else "/")
        response = _send(browser, url, data, case.files, token)
        assert response.status_code in (200, 302), (case.endpoint, response.status_code)
        if case.succeeded is not None:
            assert case.succeeded(response), case.endpoint
        else:
            assert changed_tables(before, snapshot(app)) != [], case.endpoint


# GET endpoints that write, what they record, and whether a request an attacker
# can trigger (an image or a frame pointing at the URL) records it too.
WRITING_GET_REVIEW = {
    "forum.show": "view count, recorded only for a page load (Sec-Fetch-Dest)",
    "notifications.open": "read receipt, recorded only for a page load",
    "clients.show": "client access log row; an image or other embed gets 404",
    "api.client_record": "client access log row; an embed gets 404",
}


def test_writing_get_endpoints_reviewed():
    assert sorted(WRITING_GET_ENDPOINTS) == sorted(WRITING_GET_REVIEW)


def test_subresource_get_records_nothing(demo_app):
    app = demo_app
    with app.app_context():
        manager_id = _user_id("manager")
        notification_id = _id(
            sa.select(Notification.id).where(Notification.user_id == manager_id)
        )
        post_id = _id(
            sa.select(Post.id).where(
                Post.visibility == "all",
                Post.anonymous.is_(False),
                Post.author_id != manager_id,
            )
        )
        code = _client_codes()[0]
    browser = sign_in(app, "manager")
    embeds = [
        f"/forum/{post_id}",
        f"/notifications/{notification_id}",
        f"/clients/{code}",
        f"/api/v1/clients/{code}",
    ]
    for url in embeds:
        for destination in ("image", "script", "style", "iframe", "object"):
            before = snapshot(app)
            response = browser.get(url, headers={"Sec-Fetch-Dest": destination})
            assert changed_tables(before, snapshot(app)) == [], (url, destination)
            if "/clients/" in url:
                assert response.status_code == 404, (url, destination)
    for url in embeds:
        before = snapshot(app)
        response = browser.get(url, headers={"Sec-Fetch-Dest": "document"})
        assert response.status_code in (200, 302), url
        assert changed_tables(before, snapshot(app)) != [], url


def test_json_body_needs_csrf_token(app, signed_in):
    before = snapshot(app)
    response = signed_in.post(
        "/forum/new",
        json=_post_form(),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert changed_tables(before, snapshot(app)) == []


def test_bearer_request_ignores_session(app, signed_in):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "manager"))
        token = create_token(db.session, user, "script")
        db.session.commit()
    assert signed_in.get("/api/v1/posts").status_code == 200

    # A bad bearer token is not rescued by the session cookie sent with it.
    response = signed_in.get(
        "/api/v1/posts", headers={"Authorization": "Bearer wrong-token"}
    )
    assert response.status_code == 401
    response = signed_in.get("/api/v1/posts", headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 401

    # A bearer request without cookies gets no session cookie to reuse.
    script = app.test_client(use_cookies=False)
    response = script.get("/api/v1/posts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers.getlist("Set-Cookie") == []
