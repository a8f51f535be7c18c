"""Sign-in, sign-out, remember-me, throttling and the next redirect."""

import pytest

from tests.conftest import HOST, PASSWORD, csrf_token, login


def test_login_page_renders_in_chinese(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert "登录行业知识库" in page.get_data(as_text=True)


def test_pages_require_sign_in(client):
    response = client.get("/briefs/")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_login_success_redirects_home(client, make_user):
    make_user("manager")
    response = login(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_shows_message(client, make_user):
    make_user("manager")
    response = login(client, password="wrong-password")
    assert response.status_code == 400
    assert "用户名或密码不正确" in response.get_data(as_text=True)


def test_login_without_csrf_rejected(client, make_user):
    make_user("manager")
    response = client.post("/login", data={"username": "manager", "password": PASSWORD})
    assert response.status_code == 400
    assert "manager" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "https:evil.example",
        "/%2F%2Fevil.example",
        " //evil.example",
        "\t//evil.example",
        "javascript:alert(1)",
        "http://kb.test@evil.example/",
        "/\t/evil.example",
        "///evil.example",
    ],
)
def test_next_never_leaves_site(client, make_user, target):
    make_user("manager")
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={
            "username": "manager",
            "password": PASSWORD,
            "csrf_token": token,
            "next": target,
        },
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/")
    assert not location.startswith("//")
    assert "evil" not in location


def test_next_within_site_followed(client, make_user):
    make_user("manager")
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={
            "username": "manager",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/search/?q=LPR",
        },
    )
    assert response.headers["Location"] == "/search/?q=LPR"


def test_account_throttled_after_failures(client, make_user, app):
    make_user("manager")
    limit = app.config["KB_LOGIN_MAX_FAILURES_ACCOUNT"]
    for _ in range(limit):
        assert login(client, password="nope-nope-nope").status_code == 400
    blocked = login(client)
    assert blocked.status_code == 429
    body = blocked.get_data(as_text=True)
    assert "分钟后再试" in body
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60 + 1


def test_address_throttled_across_accounts(client, make_user, app):
    app.config["KB_LOGIN_MAX_FAILURES_ADDRESS"] = 3
    make_user("manager")
    for name in ("ghost1", "ghost2", "ghost3"):
        assert login(client, username=name, password="x" * 12).status_code == 400
    assert login(client).status_code == 429


def test_session_cookie_changes_at_login(client, make_user):
    make_user("manager")
    client.get("/login")
    before = client.get_cookie("session", domain=HOST)
    login(client)
    after = client.get_cookie("session", domain=HOST)
    assert before is not None and after is not None
    assert before.value != after.value


def test_remember_me_survives_lost_session(client, make_user):
    make_user("manager")
    login(client, remember=True)
    assert client.get_cookie("remember_token", domain=HOST) is not None
    client.delete_cookie("session", domain=HOST)
    assert client.get("/").status_code == 200


def test_logout_clears_remember_me(client, make_user, app):
    make_user("manager")
    login(client, remember=True)
    stolen = client.get_cookie("remember_token", domain=HOST).value
    token = csrf_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get_cookie("remember_token", domain=HOST) is None
    assert client.get("/").status_code == 302

    # A copy of the old cookie no longer signs anyone in.
    other = app.test_client()
    other.set_cookie("remember_token", stolen, domain=HOST)
    assert other.get("/").status_code == 302


def test_logout_requires_post(signed_in):
    assert signed_in.get("/logout").status_code == 405


def test_language_switch_to_english(signed_in):
    token = csrf_token(signed_in, "/")
    signed_in.post("/language", data={"locale": "en", "csrf_token": token, "next": "/"})
    page = signed_in.get("/").get_data(as_text=True)
    assert "Industry briefs" in page


def test_english_sign_in_error_and_error_page(client, make_user):
    make_user("manager")
    client.post("/language", data={"locale": "en", "csrf_token": csrf_token(client)})
    failed = login(client, password="wrong-password-here")
    assert "Incorrect username or password." in failed.get_data(as_text=True)
    login(client)
    # A signed-in user's saved language wins over the one chosen before.
    token = csrf_token(client, "/")
    client.post("/language", data={"locale": "en", "csrf_token": token})
    missing = client.get("/briefs/424242")
    assert missing.status_code == 404
    assert "Page not found" in missing.get_data(as_text=True)


def test_attempt_counted_before_password_check(client, make_user, app, monkeypatch):
    """Parallel guesses see each other: the attempt is committed before the hash."""
    from sqlalchemy import func, select

    from kb.auth import services
    from kb.auth.models import LoginFailure
    from kb.extensions import db

    make_user("manager")
    verify_password = services.verify_password
    seen = []

    def verify_and_count(user, password):
        with db.engine.connect() as other:
            seen.append(other.scalar(select(func.count()).select_from(LoginFailure)))
        return verify_password(user, password)

    monkeypatch.setattr(services, "verify_password", verify_and_count)
    assert login(client, password="wrong-password-1").status_code == 400
    assert login(client).status_code == 302
    assert seen == [1, 2]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 0
