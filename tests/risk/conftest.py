"""Accounts and risk signals for the risk board, report and receipt tests."""

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from kb.auth.models import Department, User
from kb.extensions import db
from kb.forum import services
from kb.forum.models import Post
from kb.timeutil import utcnow
from tests.conftest import CSRF_RE, PASSWORD

RISK_DEPARTMENT = "风险管理部"
BODY_MAX = 300_000


@pytest.fixture
def accounts(app, make_user):
    """Ids of a risk officer, two relationship managers, an approver and an admin.

    Only 风险管理部 handles risk signals.
    """
    ids = {
        "risk": make_user("risk_officer", "staff", RISK_DEPARTMENT, "风控王"),
        "manager": make_user("manager", "staff", "公司金融部", "李明轩"),
        "colleague": make_user("colleague", "staff", "公司金融部", "周同事"),
        "approver": make_user("approver", "staff", "授信审批部", "张审批"),
        "admin": make_user("admin", "admin", "行业研究中心", "赵管理"),
    }
    with app.app_context():
        department = db.session.scalar(
            db.select(Department).where(Department.name == RISK_DEPARTMENT)
        )
        department.handles_risk = True
        db.session.commit()
    return ids


def department_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(Department.id).where(Department.name == name)
        )


def make_signal(
    app,
    author_id: int,
    title: str,
    severity: str = "medium",
    age_days: float = 0,
    visibility: str = "all",
    industries: tuple[str, ...] = (),
) -> int:
    """Publish a risk signal in the author's name, ``age_days`` old; return its id."""
    with app.app_context():
        author = db.session.get(User, author_id)
        post = services.create_post(
            db.session,
            services.PostInput(
                title=title,
                body_md=f"{title}：客户现金流紧张，已出现欠息。",
                signal_type="risk",
                visibility=visibility,
                industry_codes=list(industries),
                severity=severity,
            ),
            author,
            BODY_MAX,
        )
        post.created_at = utcnow() - timedelta(days=age_days)
        db.session.commit()
        return post.id


def make_anonymous(
    app, title: str, severity: str = "high", industries: tuple[str, ...] = ()
) -> tuple[int, str]:
    """File an anonymous report through the service; return its id and receipt code."""
    with app.app_context():
        post, code = services.create_anonymous_report(
            db.session,
            services.PostInput(
                title=title,
                body_md=f"{title}：实际控制人失联，工资已停发两个月。",
                industry_codes=list(industries),
                severity=severity,
            ),
            BODY_MAX,
            per_hour=100,
        )
        db.session.commit()
        return post.id, code


def set_status(app, post_id: int, user_id: int, status: str, note: str = "") -> None:
    with app.app_context():
        post = db.session.get(Post, post_id)
        user = db.session.get(User, user_id)
        services.change_status(db.session, post, user, status, note)
        db.session.commit()


def hide(app, post_id: int, admin_id: int) -> None:
    with app.app_context():
        post = db.session.get(Post, post_id)
        services.hide_post(db.session, post, db.session.get(User, admin_id), "重复发布")
        db.session.commit()


@pytest.fixture
def live_server(app):
    """Serve ``app`` on 127.0.0.1 at a free port; werkzeug logs each request."""
    app.config["SERVER_NAME"] = None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


class Browser:
    """A cookie-keeping HTTP client for the live server, with no proxy."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )

    def request(
        self, path: str, fields: list[tuple[str, str]] | None = None
    ) -> tuple[int, str]:
        """GET ``path``, or POST ``fields`` to it; return the status and the body."""
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        try:
            with self.opener.open(self.base_url + path, data=data, timeout=30) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read().decode()

    def csrf(self, path: str) -> str:
        status, page = self.request(path)
        assert status == 200, page
        match = CSRF_RE.search(page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username: str) -> None:
        fields = [
            ("csrf_token", self.csrf("/login")),
            ("username", username),
            ("password", PASSWORD),
        ]
        status, page = self.request("/login", fields)
        assert status == 200, page
        assert 'action="/logout"' in page
