"""The clients JSON API: search, one record, visibility of linked posts, audit."""

import pytest

from kb.articles.services import ArticleInput, create_article
from kb.auth.models import User
from kb.clients import services
from kb.clients.models import ClientAccess
from kb.extensions import db
from kb.forum.models import Post
from tests.clients.factories import make_client
from tests.forum.conftest import sign_in, write_post


@pytest.fixture
def records(app, people):
    """招商银行 with a public post, a 授信审批部-only post and a brief; 招远黄金."""
    public = write_post(app, "corp", title="招行零售转型")
    private = write_post(app, "credit", title="授信部内部讨论", visibility="department")
    with app.app_context():
        bank = make_client(
            "招商银行股份有限公司",
            1,
            industry_code="66",
            manager_id=people["corp"],
            branch="深圳分行",
            segment="战略客户",
            products=["同业存款", "债券承销"],
            notes="总行级客户。",
        )
        gold = make_client("招远黄金集团", 2, status="at_risk")
        author = db.session.get(User, people["corp"])
        article = create_article(
            db.session, ArticleInput(title="银行业简报", body_md="正文。"), author, 9999
        )
        for post_id in (public, private):
            services.set_post_clients(db.session, db.session.get(Post, post_id), [bank])
        services.set_article_clients(db.session, article, [bank])
        db.session.commit()
        return {
            "bank": bank.credit_code,
            "bank_id": bank.id,
            "gold": gold.credit_code,
            "public": public,
            "private": private,
            "article": article.id,
            "manager": people["corp"],
        }


def test_search_requires_sign_in(client, records):
    response = client.get("/api/v1/clients?q=zsyh")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert client.get(f"/api/v1/clients/{records['bank']}").status_code == 401


@pytest.mark.parametrize("query", ["", "?q=", "?q=%20%20"])
def test_search_needs_q(client, records, query):
    sign_in(client, "corp")
    response = client.get(f"/api/v1/clients{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == "q"
    assert "Parameter q" in body["message"]


def test_search_returns_client_fields(client, records):
    sign_in(client, "credit")
    body = client.get("/api/v1/clients?q=zsyh").get_json()
    assert body["total"] == 1
    assert body["page"] == 1
    assert body["per_page"] == 20
    assert body["clients"] == [
        {
            "id": records["bank_id"],
            "name": "招商银行股份有限公司",
            "credit_code": records["bank"],
            "industry": {"code": "66", "name": "货币金融服务"},
            "manager": {"id": records["manager"], "name": "王公司"},
            "branch": "深圳分行",
            "segment": "战略客户",
            "status": "active",
            "url": f"/clients/{records['bank']}",
        }
    ]


def test_search_by_name_and_code(client, records):
    sign_in(client, "credit")
    by_name = client.get("/api/v1/clients?q=招").get_json()
    assert [item["name"] for item in by_name["clients"]] == [
        "招远黄金集团",
        "招商银行股份有限公司",
    ]
    gold = by_name["clients"][0]
    assert gold["industry"] is None
    assert gold["manager"] is None
    assert gold["status"] == "at_risk"
    by_code = client.get(f"/api/v1/clients?q={records['gold'].lower()}").get_json()
    assert [item["credit_code"] for item in by_code["clients"]] == [records["gold"]]


def test_search_pages(client, records):
    sign_in(client, "credit")
    body = client.get("/api/v1/clients?q=招&per_page=1&page=2").get_json()
    assert body["total"] == 2
    assert body["per_page"] == 1
    assert [item["name"] for item in body["clients"]] == ["招商银行股份有限公司"]
    past = client.get("/api/v1/clients?q=招&per_page=1&page=3").get_json()
    assert past["clients"] == []


@pytest.mark.parametrize(
    ("args", "field"),
    [("page=0", "page"), ("per_page=101", "per_page"), ("page=x", "page")],
)
def test_search_bad_paging(client, records, args, field):
    sign_in(client, "credit")
    response = client.get(f"/api/v1/clients?q=招&{args}")
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_record_returns_fields_and_links(client, records):
    sign_in(client, "corp")
    response = client.get(f"/api/v1/clients/{records['bank']}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "招商银行股份有限公司"
    assert body["credit_code"] == records["bank"]
    assert body["industry"] == {"code": "66", "name": "货币金融服务"}
    assert body["manager"] == {"id": records["manager"], "name": "王公司"}
    assert body["products"] == ["同业存款", "债券承销"]
    assert body["notes"] == "总行级客户。"
    assert body["updated_at"].endswith("+08:00")
    assert body["url"] == f"/clients/{records['bank']}"
    assert body["post_ids"] == [records["public"]]
    assert body["article_ids"] == [records["article"]]


def test_record_shows_posts_the_caller_may_see(client, records):
    sign_in(client, "credit")
    body = client.get(f"/api/v1/clients/{records['bank']}").get_json()
    assert body["post_ids"] == [records["public"], records["private"]]
    admin = client.application.test_client()
    sign_in(admin, "admin")
    admin_body = admin.get(f"/api/v1/clients/{records['bank']}").get_json()
    assert admin_body["post_ids"] == [records["public"], records["private"]]


def test_record_hides_hidden_posts_from_staff(app, client, records):
    with app.app_context():
        db.session.get(Post, records["public"]).hidden = True
        db.session.commit()
    sign_in(client, "corp")
    body = client.get(f"/api/v1/clients/{records['bank']}").get_json()
    assert body["post_ids"] == []
    assert body["article_ids"] == [records["article"]]


def test_record_accepts_lower_case(client, records):
    sign_in(client, "corp")
    response = client.get(f"/api/v1/clients/{records['bank'].lower()}")
    assert response.status_code == 200
    assert response.get_json()["credit_code"] == records["bank"]


def test_unknown_record_is_json_404(app, client, records):
    sign_in(client, "corp")
    response = client.get("/api/v1/clients/91110000000000999X")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["error"] == "not_found"
    with app.app_context():
        assert db.session.query(ClientAccess).count() == 0


def test_each_record_call_writes_an_api_row(app, client, records):
    sign_in(client, "credit")
    client.get(f"/api/v1/clients/{records['bank']}")
    client.get(f"/api/v1/clients/{records['bank']}")
    client.get("/api/v1/clients?q=zsyh")
    with app.app_context():
        rows = db.session.query(ClientAccess).all()
        credit = db.session.query(User).filter_by(username="credit").one()
        assert len(rows) == 2
        assert {row.channel for row in rows} == {"api"}
        assert {row.user_id for row in rows} == {credit.id}
        assert {row.credit_code for row in rows} == {records["bank"]}


def test_bearer_token_works(app, client, records):
    from kb.auth.models import ApiToken

    token = ApiToken.generate()
    with app.app_context():
        user = db.session.query(User).filter_by(username="corp").one()
        db.session.add(
            ApiToken(user=user, name="测试", token_hash=ApiToken.digest(token))
        )
        db.session.commit()
        user_id = user.id
    response = client.get(
        f"/api/v1/clients/{records['bank']}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.get_json()["post_ids"] == [records["public"]]
    with app.app_context():
        row = db.session.query(ClientAccess).one()
        assert row.user_id == user_id
        assert row.channel == "api"
