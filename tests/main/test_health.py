"""The health check, and what people see while the database cannot be reached."""

import pytest

from kb import create_app
from tests.conftest import HOST, close_app, login

UNREACHABLE = {
    "sqlite": "sqlite:////proc/kb-no-such-folder/kb.sqlite3",
    # Port 1 on loopback: nothing listens there, so the connection is refused.
    "postgresql": "postgresql+psycopg://kb@127.0.0.1:1/kb?connect_timeout=2",
}


def test_health_answers_while_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.fixture(params=sorted(UNREACHABLE))
def broken_app(request, app, tmp_path):
    """An app like ``app`` (same key) whose database cannot be reached."""
    broken = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(tmp_path / "broken"),
            "SERVER_NAME": HOST,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "SQLALCHEMY_DATABASE_URI": UNREACHABLE[request.param],
        }
    )
    yield broken
    close_app(broken)


def test_health_fails_without_the_database(broken_app):
    response = broken_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_signed_in_reader_sees_unavailable_page(client, make_user, broken_app):
    make_user("manager")
    assert login(client).status_code == 302
    cookie = client.get_cookie("session", domain=HOST)
    reader = broken_app.test_client()
    reader.set_cookie("session", cookie.value, domain=HOST)
    for path in ("/", "/forum/", "/forum/1", "/search/?q=钢材"):
        response = reader.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 503, path
        assert "数据库暂时无法连接" in page
        assert "Traceback" not in page
        assert response.headers["Content-Security-Policy"]


def test_api_reports_unavailable_as_json(broken_app):
    response = broken_app.test_client().get(
        "/api/v1/search?q=x", headers={"Authorization": "Bearer kb_nothing"}
    )
    assert response.status_code == 503
    assert response.get_json()["error"] == "unavailable"
