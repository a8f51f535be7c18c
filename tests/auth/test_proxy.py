"""Client address and scheme behind a load balancer (KB_PROXY_HOPS)."""

import pytest

from kb import create_app
from tests.conftest import HOST, close_app, login


@pytest.fixture
def proxied_app(tmp_path, database_url):
    def make(hops: int):
        app = create_app(
            {
                "ENV": "testing",
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "SERVER_NAME": HOST,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "KB_PROXY_HOPS": hops,
                "KB_LOGIN_MAX_FAILURES_ADDRESS": 2,
            }
        )
        apps.append(app)
        return app

    apps = []
    yield make
    for app in apps:
        close_app(app)


def fail_twice_from(client, address: str) -> None:
    client.environ_base["HTTP_X_FORWARDED_FOR"] = address
    for name in ("ghost1", "ghost2"):
        assert login(client, username=name, password="x" * 12).status_code == 400


def test_throttle_counts_the_forwarded_address(proxied_app, make_user):
    app = proxied_app(1)
    make_user("manager")
    client = app.test_client()
    fail_twice_from(client, "10.1.1.1")
    assert login(client).status_code == 429
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "10.2.2.2"
    assert login(client).status_code == 302


def test_forwarded_address_ignored_without_proxy(proxied_app, make_user):
    app = proxied_app(0)
    make_user("manager")
    client = app.test_client()
    fail_twice_from(client, "10.1.1.1")
    # A made-up header cannot escape the limit of the real address.
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "10.2.2.2"
    assert login(client).status_code == 429


@pytest.mark.parametrize(("hops", "scheme"), [(1, "https"), (0, "http")])
def test_forwarded_scheme(proxied_app, hops, scheme):
    app = proxied_app(hops)

    @app.get("/_scheme")
    def scheme_view():
        from flask import request

        return request.scheme

    client = app.test_client()
    response = client.get("/_scheme", headers={"X-Forwarded-Proto": "https"})
    assert response.get_data(as_text=True) == scheme
