"""GET /api/v1/people and /api/v1/people/<id>."""

from tests.experts.conftest import (
    accepted_answer,
    declare,
    sign_in,
    user_named,
    write_brief,
    write_post,
)


def test_people_shape(app, client, people):
    declare(app, "credit", industries=[("36", 3)], skills=[("供应链金融", 2)])
    write_brief(app, "credit", industry_codes=["36"])
    accepted_answer(app, "credit", "corp", industry_codes=["36"])
    sign_in(client, "corp")
    body = client.get("/api/v1/people?industry=36").get_json()
    assert body["page"] == 1
    assert body["per_page"] == 20
    first = body["people"][0]
    assert first["name"] == "赵授信"
    assert first["department"] == "授信审批部"
    assert first["industries"] == [{"code": "36", "name": "汽车制造业", "level": 3}]
    assert first["skills"] == [{"name": "供应链金融", "level": 2}]
    assert first["evidence"] == {
        "briefs": 1,
        "accepted_answers": 1,
        "useful_signals": 0,
        "useful_answers": 0,
        "endorsements": 0,
        "score": 8.0,
    }


def test_people_by_skill_and_text(app, client, people):
    declare(app, "credit", skills=[("跨境结算", 2)])
    sign_in(client, "corp")
    by_skill = client.get("/api/v1/people?skill=跨境结算").get_json()
    by_text = client.get("/api/v1/people?q=跨境").get_json()
    assert [p["name"] for p in by_skill["people"]] == ["赵授信"]
    assert [p["name"] for p in by_text["people"]] == ["赵授信"]


def test_people_bad_parameters(app, client, people):
    sign_in(client, "corp")
    for query, field in (
        ("industry=ZZ", "industry"),
        ("skill=没有", "skill"),
        ("page=0", "page"),
        ("per_page=abc", "per_page"),
    ):
        response = client.get(f"/api/v1/people?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["field"] == field


def test_people_needs_auth(client, people):
    response = client.get("/api/v1/people")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert client.get("/api/v1/people/1").status_code == 401


def test_person_detail(app, client, people):
    declare(app, "corp", headline="钢铁行业", industries=[("31", 2)])
    write_post(app, "corp", title="部门内部安排", visibility="department")
    write_post(app, "corp", title="公开信号")
    sign_in(client, "credit")
    with app.app_context():
        corp_id = user_named("corp").id
    body = client.get(f"/api/v1/people/{corp_id}").get_json()
    assert body["headline"] == "钢铁行业"
    assert body["industries"][0]["code"] == "31"
    titles = [item["title"] for item in body["recent"]]
    assert titles == ["公开信号"]
    response = client.get("/api/v1/people/999")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
