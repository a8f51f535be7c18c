"""Client services: validation, upsert, look-up by name, pinyin and code, links."""

import pytest

from kb.articles.models import Article
from kb.auth.models import User
from kb.clients import services
from kb.clients.models import Client, ClientAccess, client_post
from kb.errors import ValidationError
from kb.extensions import db
from kb.forum.models import Post
from tests.clients.factories import make_client, make_code
from tests.forum.conftest import write_post


def test_pinyin_keys_keep_latin_and_digits():
    assert services.pinyin_keys("招商银行") == ("zsyh", "zhaoshangyinhang")
    assert services.pinyin_keys("重庆长安汽车") == ("cqcaqc", "chongqingchanganqiche")
    assert services.pinyin_keys("ABC科技2024") == ("abckj2024", "abckeji2024")


def test_validation_names_each_column(app):
    with app.app_context():
        data = services.ClientInput(
            name=" ",
            credit_code="91350100M000100Y44",
            industry_code="C",
            status="dormant",
        )
        errors = services.validate(data, db.session)
    assert set(errors) == {"name", "credit_code", "industry", "status"}
    assert "应为 3" in str(errors["credit_code"])
    assert "dormant" in str(errors["status"])


def test_upsert_matches_on_the_credit_code(app):
    with app.app_context():
        code = make_code(1)
        data = services.ClientInput(name="星河汽车零部件有限公司", credit_code=code)
        client, outcome = services.upsert(db.session, data)
        assert outcome == "created"
        again, outcome = services.upsert(db.session, data)
        assert (again.id, outcome) == (client.id, "unchanged")
        data.name = "星河汽车零部件股份有限公司"
        data.industry_code = "36"
        data.credit_code = code.lower()
        again, outcome = services.upsert(db.session, data)
        assert (again.id, outcome) == (client.id, "updated")
        assert db.session.query(Client).count() == 1
        assert again.name_initials == "xhqclbjgfyxgs"
        with pytest.raises(ValidationError) as caught:
            services.upsert(db.session, services.ClientInput(name="x", credit_code="1"))
        assert caught.value.field == "credit_code"


def test_long_pinyin_name_is_stored(app):
    name = "壮" * services.NAME_MAX
    with app.app_context():
        client = make_client(name, 14)
        assert client.name == name
        assert (
            client.name_pinyin == ("zhuang" * services.NAME_MAX)[: services.PINYIN_MAX]
        )
        assert services.find_clients(db.session, "zhuangzhuang")[0].id == client.id


def test_find_by_name_ignores_latin_case(app):
    with app.app_context():
        make_client("ABC科技有限公司", 15)
        make_client("xyz贸易公司", 16)
        names = lambda text: [c.name for c in services.find_clients(db.session, text)]  # noqa: E731
        assert names("abc科技") == ["ABC科技有限公司"]
        assert names("C科技") == ["ABC科技有限公司"]
        assert names("XYZ贸易") == ["xyz贸易公司"]


def test_find_by_name_initials_pinyin_and_code(app):
    with app.app_context():
        bank = make_client("招商银行股份有限公司", 11)
        make_client("招远黄金集团", 12)
        make_client("深圳市长城科技", 13)
        names = lambda text: [c.name for c in services.find_clients(db.session, text)]  # noqa: E731
        assert names("招商") == ["招商银行股份有限公司"]
        assert names("zsyh") == ["招商银行股份有限公司"]
        assert names("ZSY") == ["招商银行股份有限公司"]
        assert names("zhaoshang") == ["招商银行股份有限公司"]
        assert names(bank.credit_code[:17].lower()) == ["招商银行股份有限公司"]
        assert len(names(bank.credit_code[:12])) == 3
        assert names("招") == ["招远黄金集团", "招商银行股份有限公司"]
        assert names("%") == []
        assert names("  ") == []


def test_post_links_follow_edits_merge_and_delete(app, people):
    post_id = write_post(app, "corp", title="客户扩产计划", body_md="新增两条产线。")
    with app.app_context():
        first = make_client("甲公司", 21)
        second = make_client("乙公司", 22)
        post = db.session.get(Post, post_id)
        services.set_post_clients(db.session, post, [first, second])
        db.session.commit()
        assert [c.name for c in services.clients_of_post(db.session, post_id)] == [
            "乙公司",
            "甲公司",
        ]
        user = db.session.query(User).filter_by(username="corp").one()
        services.record_access(db.session, user, first, "page")
        moved = services.merge(db.session, first, second)
        db.session.commit()
        assert moved == 0
        assert [c.name for c in services.clients_of_post(db.session, post_id)] == [
            "乙公司"
        ]
        log = db.session.query(ClientAccess).one()
        assert log.client_id == second.id
        assert log.client_name == "甲公司"
        services.delete_client(db.session, second)
        db.session.commit()
        assert db.session.execute(client_post.select()).all() == []
        assert db.session.get(Post, post_id) is not None


def test_searching_a_client_name_finds_linked_posts(app, client, people):
    from tests.forum.conftest import sign_in

    post_id = write_post(app, "corp", title="扩产计划", body_md="新增两条产线。")
    with app.app_context():
        target = make_client("华星精密制造有限公司", 31, industry_code="34")
        post = db.session.get(Post, post_id)
        services.set_post_clients(db.session, post, [target])
        db.session.commit()
        code = target.credit_code
    sign_in(client, "credit")
    found = client.get("/api/v1/search?q=华星精密").get_json()
    kinds = sorted((r["type"], r["id"]) for r in found["results"])
    with app.app_context():
        client_id = db.session.query(Client).one().id
    assert kinds == [("client", client_id), ("post", post_id)]
    by_initials = client.get("/api/v1/search?q=hxjmzzyxgs").get_json()
    assert [r["url"] for r in by_initials["results"]] == [f"/clients/{code}"]
    with app.app_context():
        renamed = services.ClientInput(name="华辰精密制造有限公司", credit_code=code)
        services.upsert(db.session, renamed)
        db.session.commit()
    assert client.get("/api/v1/search?q=华星精密").get_json()["total"] == 0
    after = client.get("/api/v1/search?q=华辰精密&type=post").get_json()
    assert [r["id"] for r in after["results"]] == [post_id]


def test_linked_brief_is_found_by_client_code(app, client, people):
    from kb.articles.services import ArticleInput, create_article
    from tests.forum.conftest import sign_in

    with app.app_context():
        author = db.session.query(User).filter_by(username="corp").one()
        article = create_article(
            db.session, ArticleInput(title="行业观察", body_md="正文"), author, 300_000
        )
        target = make_client("远航物流", 41)
        services.set_article_clients(db.session, article, [target])
        db.session.commit()
        article_id, code = article.id, target.credit_code
        assert db.session.get(Article, article_id) is not None
    sign_in(client, "credit")
    found = client.get(f"/api/v1/search?q={code}&type=article").get_json()
    assert [r["id"] for r in found["results"]] == [article_id]


def test_header_search_finds_clients_by_leading_initials(app, client, people):
    from tests.forum.conftest import sign_in

    with app.app_context():
        make_client("沪东汽车配件有限公司", 61)
    sign_in(client, "credit")
    for query in ("hdqc", "hdqcpj", "hdqcpjyxgs"):
        found = client.get(f"/api/v1/search?q={query}").get_json()
        assert [r["type"] for r in found["results"]] == ["client"], query
    assert client.get("/api/v1/search?q=hd").get_json()["total"] == 0
