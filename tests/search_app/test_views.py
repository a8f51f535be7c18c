"""The search page and the JSON search API over briefs indexed through the outbox."""

import pytest

from kb.articles.models import Article
from kb.articles.services import ArticleInput, create_article, update_article
from kb.extensions import db
from tests.conftest import csrf_token


def add_brief(app, title, body, industries=(), tags=(), published="2024-05-01"):
    from datetime import date

    with app.app_context():
        data = ArticleInput(
            title=title,
            body_md=body,
            industry_codes=list(industries),
            tags=list(tags),
            published_at=date.fromisoformat(published),
        )
        article = create_article(db.session, data, None, 300_000)
        db.session.commit()
        return article.id


@pytest.fixture
def corpus(app):
    ids = {
        "ev": add_brief(
            app,
            "新能源汽车800V平台",
            "主机厂推出800V高压平台，客户到期续贷安排需要提前沟通。",
            industries=["36"],
            tags=["新能源"],
            published="2024-03-01",
        ),
        "grid": add_brief(
            app,
            "特高压直流工程",
            "HVDC 输电项目投资增长，2024年招标额同比提升5.2%。",
            industries=["44"],
            tags=["电网"],
            published="2024-08-01",
        ),
        "rate": add_brief(
            app,
            "LPR 下调对贷款定价的影响",
            "一年期 LPR 下调后，存量贷款重定价；"
            "<script>alert(1)</script>续贷客户关注利率。",
            industries=["66"],
            tags=["LPR"],
            published="2024-10-01",
        ),
    }
    return ids


def test_search_finds_word_inside_sentence(signed_in, corpus):
    page = signed_in.get("/search/?q=续贷").get_data(as_text=True)
    assert "找到 2 条结果" in page
    assert "<mark>续贷</mark>" in page
    assert "新能源汽车800V平台" in page


def test_snippet_is_escaped(signed_in, corpus):
    page = signed_in.get("/search/?q=LPR").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [("HVDC", {"grid"}), ("hvdc", {"grid"}), ("２０２４", {"grid"}), ("800V", {"ev"})],
)
def test_latin_and_figures_survive(signed_in, corpus, query, expected):
    data = signed_in.get(f"/api/v1/search?q={query}").get_json()
    found = {hit["id"] for hit in data["results"]}
    assert found == {corpus[name] for name in expected}


def test_filters_industry_and_tag(signed_in, corpus):
    data = signed_in.get("/api/v1/search?q=续贷&industry=36").get_json()
    assert [hit["id"] for hit in data["results"]] == [corpus["ev"]]
    data = signed_in.get("/api/v1/search?q=续贷&tag=lpr").get_json()
    assert [hit["id"] for hit in data["results"]] == [corpus["rate"]]
    data = signed_in.get("/api/v1/search?q=续贷&industry=C").get_json()
    assert [hit["id"] for hit in data["results"]] == [corpus["ev"]]


def test_filter_without_query_lists_newest_first(signed_in, corpus):
    data = signed_in.get("/api/v1/search?industry=36").get_json()
    assert [hit["id"] for hit in data["results"]] == [corpus["ev"]]
    page = signed_in.get("/search/?tag=lpr").get_data(as_text=True)
    assert "找到 1 条结果" in page


def test_sort_by_date(signed_in, corpus):
    data = signed_in.get("/api/v1/search?q=续贷&sort=date").get_json()
    assert [hit["id"] for hit in data["results"]] == [corpus["rate"], corpus["ev"]]


def test_api_shape(signed_in, corpus):
    data = signed_in.get("/api/v1/search?q=续贷&per_page=1&page=2").get_json()
    assert data["total"] == 2
    assert data["page"] == 2
    assert len(data["results"]) == 1
    hit = data["results"][0]
    assert set(hit) == {
        "id",
        "type",
        "title",
        "url",
        "snippet",
        "score",
        "published_at",
    }
    assert hit["type"] == "article"
    assert hit["url"] == f"/briefs/{hit['id']}"
    assert hit["published_at"].endswith("+08:00")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ("q=x&page=0", "page"),
        ("q=x&page=abc", "page"),
        ("q=x&per_page=1000", "per_page"),
        ("q=x&sort=popular", "sort"),
        ("q=", "q"),
    ],
)
def test_api_bad_parameters_400(signed_in, params, field):
    response = signed_in.get(f"/api/v1/search?{params}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid"
    assert field in body["message"]


def test_api_requires_credentials(client):
    response = client.get("/api/v1/search?q=x")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    bad = client.get("/api/v1/search?q=x", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        '"续贷',
        "续贷)",
        "((续贷",
        "title:续贷",
        "acl:all",
        "*",
        "续*",
        "AND",
        "续贷 OR LPR NOT",
        "x" * 1000,
        "续" * 1000,
        "😀 续贷",
        "\x00\x07续贷\x1b",
        "[a TO z]",
        "~2 ^3",
        "%",
    ],
)
def test_no_query_breaks_the_page(signed_in, corpus, query):
    response = signed_in.get("/search/", query_string={"q": query})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "找到" in page or "没有找到" in page


def test_internal_fields_unreachable(signed_in, corpus):
    data = signed_in.get(
        "/api/v1/search", query_string={"q": "type:article"}
    ).get_json()
    assert data["total"] == 0


def test_quoted_phrase(signed_in, corpus):
    data = signed_in.get("/api/v1/search", query_string={"q": '"续贷安排"'}).get_json()
    assert [hit["id"] for hit in data["results"]] == [corpus["ev"]]


def test_search_page_bad_page_number_message(signed_in, corpus):
    response = signed_in.get("/search/?q=续贷&page=-1")
    assert response.status_code == 400
    assert "page" in response.get_data(as_text=True)


def test_index_follows_edits_one_doc_per_record(signed_in, app, corpus):
    with app.app_context():
        article = db.session.get(Article, corpus["ev"])
        for word in ("并购贷款", "票据贴现", "跨境结算"):
            data = ArticleInput(title=article.title, body_md=f"最新：{word}")
            update_article(db.session, article, data, None, 300_000)
            db.session.commit()
    assert signed_in.get("/api/v1/search?q=跨境结算").get_json()["total"] == 1
    assert signed_in.get("/api/v1/search?q=并购贷款").get_json()["total"] == 0
    engine = app.extensions["kb_indexer"].engine
    assert engine.doc_count() == 3


def test_deleted_brief_leaves_index(signed_in, app, corpus):
    with app.app_context():
        db.session.delete(db.session.get(Article, corpus["grid"]))
        db.session.commit()
    assert signed_in.get("/api/v1/search?q=HVDC").get_json()["total"] == 0


def test_published_brief_found_through_form(signed_in):
    token = csrf_token(signed_in, "/briefs/new")
    signed_in.post(
        "/briefs/new",
        data={
            "csrf_token": token,
            "title": "票据业务月报",
            "body_md": "贴现利率回落。",
        },
    )
    data = signed_in.get("/api/v1/search?q=贴现利率").get_json()
    assert data["total"] == 1


def test_pager_keeps_per_page(signed_in, corpus):
    page = signed_in.get("/search/?q=续贷&per_page=1").get_data(as_text=True)
    assert "per_page=1" in page
    assert "page=2" in page
