"""Fuzz ``page`` and ``per_page`` on every GET page and API list."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.auth.models import User
from kb.auth.services import create_token
from kb.extensions import db
from tests.conftest import login
from tests.forum.conftest import write_post
from tests.fuzz.conftest import (
    FUZZ,
    assert_handled,
    encode_query,
    number_text,
    reseed_random,
)

page_params = st.fixed_dictionaries(
    {}, optional={"page": number_text, "per_page": number_text}
)


def list_paths(app) -> list[str]:
    """Paths of the GET endpoints that take no URL arguments."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments:
            paths.append(rule.rule)
    return sorted(paths)


@pytest.fixture
def admin_headers(app, client, make_user):
    """Sign ``client`` in as an administrator; bearer headers for the API."""
    make_user("admin", role="admin", department="合规部")
    write_post(app, "admin", title="钢材价格本周上涨")
    assert login(client, "admin").status_code == 302
    with app.app_context():
        user = db.session.query(User).filter_by(username="admin").one()
        token = create_token(db.session, user, "fuzz")
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_list_paths_cover_lists(app):
    paths = list_paths(app)
    assert "/forum/" in paths
    assert "/api/v1/posts" in paths
    assert "/training/lectures/" in paths


@FUZZ
@given(params=page_params)
def test_every_list_handles_any_page(app, client, admin_headers, params):
    reseed_random()
    query = encode_query(params)
    for path in list_paths(app):
        headers = admin_headers if path.startswith("/api/") else {}
        response = client.get(path, query_string=query, headers=headers)
        assert_handled(response, f"{path} {params!r}")
        if path.startswith("/api/") and response.status_code == 400:
            # The search API also rejects a request without q.
            assert response.json["field"] in ("page", "per_page", "q")
