"""Fuzz ``page`` and ``per_page`` on every list, and every URL argument."""

import re
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kb.auth.models import User
from kb.auth.services import create_token
from kb.extensions import db
from tests.conftest import csrf_token, login
from tests.forum.conftest import write_post
from tests.fuzz.conftest import (
    FUZZ,
    any_text,
    assert_handled,
    encode_query,
    number_text,
    reseed_random,
)

# Each example requests every page (about 30 lists, 90 URL rules), so these
# tests take fewer examples than the search tests.
LIST_FUZZ = settings(FUZZ, max_examples=max(1, FUZZ.max_examples // 3))
URL_FUZZ = settings(FUZZ, max_examples=max(1, FUZZ.max_examples // 5))
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


@LIST_FUZZ
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


path_values = st.one_of(
    any_text.filter(bool),
    st.sampled_from(["0", "1", "2147483647", "2147483648", "9" * 30, "-1"]),
)


def endpoints_with_arguments(app) -> list:
    """Rules whose URL has arguments, except static files."""
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.arguments and rule.endpoint != "static"
    ]
    return sorted(rules, key=lambda rule: rule.rule)


@URL_FUZZ
@given(value=path_values)
@example(value="\x00")
@example(value="\ud800")
@example(value="2147483648")
def test_url_arguments_handle_any_value(app, client, admin_headers, value):
    reseed_random()
    token = csrf_token(client, "/forum/new")
    segment = quote(value.encode("utf-8", "surrogatepass"), safe="")
    for rule in endpoints_with_arguments(app):
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", segment, path)
        headers = admin_headers if path.startswith("/api/") else {}
        if "GET" in rule.methods:
            response = client.get(path, headers=headers)
            assert_handled(response, f"GET {path[:200]}")
        if "POST" in rule.methods:
            response = client.post(path, data={"csrf_token": token})
            assert_handled(response, f"POST {path[:200]}")
