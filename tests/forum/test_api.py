"""The posts API: lists, one post with replies, 404 for what the caller may not see."""

from kb.auth.models import User
from kb.auth.services import create_token
from kb.extensions import db
from tests.forum.conftest import add_reply, sign_in, write_post


def _bearer(app, username: str) -> dict:
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one()
        token = create_token(db.session, user, "test")
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_list_filters_and_pages(app, client, people):
    market = write_post(app, "corp", industry_codes=["31"], tags=["钢铁"])
    lead = write_post(app, "corp", signal_type="lead", industry_codes=["44"])
    headers = _bearer(app, "credit")
    body = client.get("/api/v1/posts", headers=headers).get_json()
    assert [p["id"] for p in body["posts"]] == [lead, market]
    assert body["total"] == 2
    assert body["page"] == 1
    assert body["posts"][0]["author"]["name"] == "王公司"
    assert body["posts"][0]["type"] == "post"
    by_type = client.get("/api/v1/posts?type=lead", headers=headers).get_json()
    assert [p["id"] for p in by_type["posts"]] == [lead]
    by_industry = client.get("/api/v1/posts?industry=C", headers=headers).get_json()
    assert [p["id"] for p in by_industry["posts"]] == [market]
    by_tag = client.get("/api/v1/posts?tag=钢铁", headers=headers).get_json()
    assert [p["id"] for p in by_tag["posts"]] == [market]
    second = client.get("/api/v1/posts?per_page=1&page=2", headers=headers).get_json()
    assert [p["id"] for p in second["posts"]] == [market]


def test_bad_parameters_name_the_field(app, client, people):
    headers = _bearer(app, "corp")
    for query, field in (
        ("page=0", "page"),
        ("type=x", "type"),
        ("per_page=a", "per_page"),
    ):
        response = client.get(f"/api/v1/posts?{query}", headers=headers)
        assert response.status_code == 400
        assert response.get_json()["field"] == field


def test_one_post_with_visible_replies(app, client, people):
    post_id = write_post(app, "corp", signal_type="risk", severity="low")
    add_reply(app, "risk", post_id, "已记录")
    sign_in(client, "corp2")
    body = client.get(f"/api/v1/posts/{post_id}").get_json()
    assert body["risk"] == {
        "severity": "low",
        "status": "open",
        "outcome_note": "",
        "closed_at": None,
    }
    assert [r["body_markdown"] for r in body["replies"]] == ["已记录"]
    assert body["replies"][0]["author"]["department"] == "风险管理部"


def test_invisible_and_missing_posts_are_both_404(app, client, people):
    secret = write_post(app, "corp", visibility="department")
    headers = _bearer(app, "credit")
    hidden = client.get(f"/api/v1/posts/{secret}", headers=headers)
    missing = client.get("/api/v1/posts/999999", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()
    listed = client.get("/api/v1/posts", headers=headers).get_json()
    assert listed["total"] == 0
    assert listed["posts"] == []
    assert client.get(f"/api/v1/posts/{secret}").status_code == 401
