"""Cookie flags, HTTPS-only marks and security headers on every kind of response."""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import sqlalchemy as sa

from kb.auth.models import User
from kb.clients.models import Client
from kb.extensions import db
from kb.training.models import Attachment, Course, Lecture
from tests.conftest import HOST, PASSWORD, REPO_ROOT
from tests.security.test_csrf import demo_app, sign_in  # noqa: F401

HTTPS = f"https://{HOST}"
PORTS = range(18800, 18820)


def cookie_attributes(response) -> dict[str, dict[str, str]]:
    """Map each Set-Cookie name to its attributes, lower-cased, flags as ''."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        name = header.split("=", 1)[0].strip()
        attributes = {}
        for part in header.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            attributes[key.lower()] = value
        cookies[name] = attributes
    return cookies


def sign_in_remembered(client, base_url: str):
    token_page = client.get("/login", base_url=base_url)
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', token_page.get_data(True)
    )
    assert token is not None
    return client.post(
        "/login",
        base_url=base_url,
        data={
            "username": "manager",
            "password": PASSWORD,
            "remember": "y",
            "csrf_token": token.group(1),
        },
    )


def test_cookies_over_http_not_secure(client, make_user):
    make_user("manager")
    response = sign_in_remembered(client, f"http://{HOST}")
    assert response.status_code == 302
    cookies = cookie_attributes(response)
    assert set(cookies) >= {"session", "remember_token"}
    for name, attributes in cookies.items():
        assert "httponly" in attributes, name
        assert attributes.get("samesite") == "Lax", name
        assert "secure" not in attributes, name
    assert "Strict-Transport-Security" not in response.headers
    # Signing in over plain HTTP works: the next request is signed in.
    assert client.get("/forum/").status_code == 200


def test_cookies_over_https_secure(client, make_user):
    make_user("manager")
    response = sign_in_remembered(client, HTTPS)
    assert response.status_code == 302
    cookies = cookie_attributes(response)
    assert set(cookies) >= {"session", "remember_token"}
    for name, attributes in cookies.items():
        assert "secure" in attributes, name
        assert "httponly" in attributes, name
        assert attributes.get("samesite") == "Lax", name
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert client.get("/forum/", base_url=HTTPS).status_code == 200

    # Signing out deletes both cookies, and the deletions are Secure too.
    # Over HTTPS Flask-WTF also requires a same-origin Referer, which browsers send.
    token = csrf_token_https(client)
    response = client.post(
        "/logout",
        base_url=HTTPS,
        data={"csrf_token": token},
        headers={"Referer": f"{HTTPS}/"},
    )
    assert response.status_code == 302
    cookies = cookie_attributes(response)
    assert set(cookies) >= {"session", "remember_token"}
    for name, attributes in cookies.items():
        assert "secure" in attributes, name


def csrf_token_https(client) -> str:
    page = client.get("/", base_url=HTTPS)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(True))
    assert token is not None
    return token.group(1)


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1} on 127.0.0.1")


def wait_until_serving(process, port: int) -> None:
    """Wait until the server accepts connections, or fail if it exited."""
    while process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            try:
                process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
    output = process.stdout.read() if process.stdout else ""
    pytest.fail(f"kb serve exited with {process.returncode}: {output[-2000:]}")


@pytest.fixture
def serve(tmp_path, database_url, make_user):
    """Start ``kb serve`` with one worker on a free loopback port; end it by pid.

    ``forwarded_allow_ips`` is gunicorn's list of proxies whose
    ``X-Forwarded-Proto`` it trusts.
    """
    make_user("manager")
    processes = []

    def start(forwarded_allow_ips: str) -> int:
        port = free_port()
        environment = {
            **os.environ,
            "KB_ENV": "production",
            "KB_SECRET_KEY": "test-secret-key-for-the-served-app",
            "KB_INSTANCE_PATH": str(tmp_path / "instance"),
            "KB_DATABASE_URL": database_url,
            "FORWARDED_ALLOW_IPS": forwarded_allow_ips,
        }
        command = [str(Path(sys.executable).with_name("kb")), "serve"]
        command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"]
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        wait_until_serving(process, port)
        return port

    yield start
    for process in processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        process.communicate(timeout=60)


def fetch(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def served_cookies(response) -> dict[str, str]:
    cookies = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            cookies[name] = morsel
    return cookies


def test_served_app_marks_https_cookies(serve):
    served = serve("127.0.0.1")
    proxied = fetch(served, "/login", {"X-Forwarded-Proto": "https"})
    assert proxied.status == 200
    cookies = served_cookies(proxied)
    assert "session" in cookies
    assert cookies["session"]["secure"] is True
    assert cookies["session"]["httponly"] is True
    assert cookies["session"]["samesite"] == "Lax"
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=")

    plain = fetch(served, "/login", {})
    assert plain.status == 200
    cookies = served_cookies(plain)
    assert "session" in cookies
    assert cookies["session"]["secure"] == ""
    assert cookies["session"]["httponly"] is True
    assert plain.headers["Strict-Transport-Security"] is None


def assert_security_headers(response, label: str) -> None:
    policy = response.headers.get("Content-Security-Policy")
    assert policy, label
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name.lower()] = values
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None, label
    assert "'unsafe-inline'" not in scripts, label
    assert "'unsafe-eval'" not in scripts, label
    assert directives.get("object-src") == ["'none'"], label
    assert "base-uri" in directives, label
    assert directives.get("frame-ancestors") == ["'none'"], label
    assert response.headers.get("X-Content-Type-Options") == "nosniff", label
    assert response.headers.get("Referrer-Policy"), label


def test_headers_on_every_response_kind(demo_app):  # noqa: F811
    app = demo_app
    with app.app_context():
        attachment_id = db.session.scalar(sa.select(Attachment.id))
        lecture_id = db.session.scalar(sa.select(Lecture.id))
        course_id = db.session.scalar(sa.select(Course.id))
        code = db.session.scalar(sa.select(Client.credit_code))
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        assert None not in (attachment_id, lecture_id, course_id, code, admin)
    admin_browser = sign_in(app, "admin")
    staff_browser = sign_in(app, "manager")
    anonymous = app.test_client()

    expected = [
        ("HTML page", staff_browser, "/", 200, "text/html"),
        ("brief", staff_browser, "/briefs/1", 200, "text/html"),
        ("risk report form", staff_browser, "/risk/report", 200, "text/html"),
        ("403 page", staff_browser, "/admin/users/", 403, "text/html"),
        ("404 page", staff_browser, "/no-such-page", 404, "text/html"),
        ("405 page", staff_browser, "/logout", 405, "text/html"),
        ("JSON API", staff_browser, "/api/v1/posts", 200, "application/json"),
        ("API 404", staff_browser, "/api/v1/posts/999999", 404, "application/json"),
        ("API 400", staff_browser, "/api/v1/search", 400, "application/json"),
        ("API 401", anonymous, "/api/v1/posts", 401, "application/json"),
        ("static CSS", anonymous, "/static/css/kb.css", 200, "text/css"),
        ("static JS", anonymous, "/static/js/kb.js", 200, "text/javascript"),
        (
            "attachment",
            staff_browser,
            f"/training/attachments/{attachment_id}",
            200,
            "application/vnd.openxmlformats",
        ),
        (
            "calendar",
            staff_browser,
            f"/training/lectures/{lecture_id}.ics",
            200,
            "text/calendar",
        ),
        ("CSV export", admin_browser, "/training/completion.csv", 200, "text/csv"),
        ("access CSV", admin_browser, "/admin/clients/access.csv", 200, "text/csv"),
        ("redirect", anonymous, "/forum/", 302, "text/html"),
        ("login redirect", staff_browser, "/login", 302, "text/html"),
    ]
    for label, browser, path, status, content_type in expected:
        response = browser.get(path)
        response.close()
        assert response.status_code == status, (label, response.status_code)
        assert response.content_type.startswith(content_type), (
            label,
            response.content_type,
        )
        assert_security_headers(response, label)

    bad_token = staff_browser.post("/forum/new", data={"title": "x"})
    assert bad_token.status_code == 400
    assert_security_headers(bad_token, "400 CSRF page")

    app.config["MAX_CONTENT_LENGTH"] = 1024
    too_large = staff_browser.post("/forum/new", data={"body_md": "x" * 4096})
    assert too_large.status_code == 413
    assert_security_headers(too_large, "413 page")


TEMPLATE_FILES = sorted(
    [
        *(REPO_ROOT / "templates").rglob("*.html"),
        *(REPO_ROOT / "templates").rglob("*.txt"),
    ]
)
STATIC_FILES = sorted(
    path for path in (REPO_ROOT / "static").rglob("*") if path.is_file()
)

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)
EVENT_ATTRIBUTE = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
JAVASCRIPT_URL = re.compile(r"javascript\s*:", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE | re.DOTALL)


def test_scanner_patterns_match():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/js/kb.js" defer></script>')
    assert EVENT_ATTRIBUTE.search('<button type="button" onclick="go()">')
    assert not EVENT_ATTRIBUTE.search('<button class="online">')
    assert JAVASCRIPT_URL.search('<a href="JavaScript:void(0)">')


def test_templates_need_no_inline_code():
    assert TEMPLATE_FILES
    for path in TEMPLATE_FILES:
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(REPO_ROOT))
        assert not INLINE_SCRIPT.search(text), name
        assert not EVENT_ATTRIBUTE.search(text), name
        assert not JAVASCRIPT_URL.search(text), name
        # E-mails are not served with the policy, and mail clients need inline style.
        if not name.startswith("templates/email/"):
            assert not STYLE_ATTRIBUTE.search(text), name


def test_static_files_need_no_inline_code():
    assert STATIC_FILES
    for path in STATIC_FILES:
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(REPO_ROOT))
        assert not JAVASCRIPT_URL.search(text), name
        assert not re.search(r"\beval\s*\(|\bnew\s+Function\s*\(", text), name
        if path.suffix == ".js":
            # Markup built in scripts must not carry handlers either.
            assert not re.search(r"""['"`][^'"`]*\son[a-z]+\s*=""", text), name


def test_served_app_ignores_untrusted_proxy(serve):
    served = serve("192.0.2.1")
    spoofed = fetch(served, "/login", {"X-Forwarded-Proto": "https"})
    assert spoofed.status == 200
    cookies = served_cookies(spoofed)
    assert "session" in cookies
    assert cookies["session"]["secure"] == ""
    assert spoofed.headers["Strict-Transport-Security"] is None
