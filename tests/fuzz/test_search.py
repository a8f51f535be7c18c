"""Fuzz the search page, the search API and the lists with a ``q`` filter."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kb.auth.models import User
from kb.auth.services import create_token
from kb.extensions import db
from tests.conftest import login
from tests.forum.conftest import add_reply, write_post
from tests.fuzz.conftest import (
    FUZZ,
    any_text,
    assert_handled,
    encode_query,
    number_text,
    reseed_random,
)

SEARCH_PARAMS = ["q", "page", "per_page", "sort", "type", "industry", "tag"]

search_params = st.fixed_dictionaries(
    {},
    optional={
        "q": any_text,
        "page": number_text,
        "per_page": number_text,
        "sort": st.one_of(st.sampled_from(["relevance", "date"]), any_text),
        "type": st.one_of(st.sampled_from(["article", "post", "reply"]), any_text),
        "industry": st.one_of(st.sampled_from(["C", "C31", "K"]), any_text),
        "tag": any_text,
    },
)


@pytest.fixture
def reader(app, client, make_user):
    """A signed-in staff member, one post with a reply to find, and a token."""
    make_user("reader", department="公司金融部")
    post_id = write_post(app, "reader", title="钢材价格本周上涨 steel")
    add_reply(app, "reader", post_id, "煤炭价格也在涨 coal")
    assert login(client, "reader").status_code == 302
    with app.app_context():
        user = db.session.query(User).filter_by(username="reader").one()
        token = create_token(db.session, user, "fuzz")
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@FUZZ
@given(params=search_params)
def test_search_page_handles_any_query(client, reader, params):
    reseed_random()
    response = client.get("/search/", query_string=encode_query(params))
    assert_handled(response, f"/search/ {params!r}")


@FUZZ
@given(params=search_params)
def test_search_api_handles_any_query(app, reader, params):
    reseed_random()
    api = app.test_client()
    response = api.get(
        "/api/v1/search", query_string=encode_query(params), headers=reader
    )
    assert_handled(response, f"/api/v1/search {params!r}")
    assert response.is_json
    if response.status_code == 400:
        assert response.json["field"] in SEARCH_PARAMS


list_params = st.fixed_dictionaries(
    {},
    optional={
        name: any_text
        for name in ["q", "industry", "skill", "status", "manager", "mine", "sort"]
    }
    | {"page": number_text, "per_page": number_text},
)


@FUZZ
@given(
    path=st.sampled_from(
        ["/people/", "/clients/", "/questions/", "/api/v1/people", "/api/v1/clients"]
    ),
    params=list_params,
)
def test_filtered_lists_handle_any_query(app, reader, path, params):
    api = app.test_client()
    response = api.get(path, query_string=encode_query(params), headers=reader)
    assert_handled(response, f"{path} {params!r}")
