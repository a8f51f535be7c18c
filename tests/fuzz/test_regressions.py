"""Fixed examples of inputs the fuzz tests found to fail."""

from tests.conftest import csrf_token, login


def test_nul_in_answer_rejected(client, make_user):
    make_user("admin", role="admin", department="合规部")
    assert login(client, "admin").status_code == 302
    token = csrf_token(client, "/questions/ask")
    question_response = client.post(
        "/questions/ask",
        data={"csrf_token": token, "title": "钢价走势", "industries": ["C"]},
    )
    assert question_response.status_code == 302
    response = client.post(
        f"{question_response.headers['Location']}/answers",
        data={"csrf_token": token, "body_md": "看库存\x00。"},
    )
    assert response.status_code == 400
    assert "body_md" in response.get_data(as_text=True)


def test_nul_in_api_form_names_field(client, make_user):
    make_user("admin", role="admin", department="合规部")
    assert login(client, "admin").status_code == 302
    token = csrf_token(client, "/forum/new")
    response = client.post(
        "/forum/new",
        data={"csrf_token": token, "title": "钢材\x00", "body_md": "正文"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["field"] == "title"


BEYOND_INTEGER = "2147483648"


def test_id_beyond_integer_not_found(client, make_user):
    make_user("admin", role="admin", department="合规部")
    assert login(client, "admin").status_code == 302
    assert client.get(f"/forum/{BEYOND_INTEGER}").status_code == 404
    assert client.get(f"/api/v1/people/{BEYOND_INTEGER}").status_code == 404


def test_expert_beyond_integer_ignored(client, make_user):
    make_user("admin", role="admin", department="合规部")
    assert login(client, "admin").status_code == 302
    response = client.post(
        "/questions/ask",
        data={
            "csrf_token": csrf_token(client, "/questions/ask"),
            "title": "钢价走势",
            "industries": ["C"],
            "expert": BEYOND_INTEGER,
        },
    )
    assert response.status_code == 302


def test_follow_beyond_integer_not_found(client, make_user):
    make_user("admin", role="admin", department="合规部")
    assert login(client, "admin").status_code == 302
    response = client.post(
        "/notifications/follow",
        data={
            "csrf_token": csrf_token(client, "/notifications/subscriptions"),
            "kind": "post",
            "target": BEYOND_INTEGER,
        },
    )
    assert response.status_code == 404


def test_nul_in_credit_code_not_found(client, make_user):
    make_user("admin", role="admin", department="合规部")
    assert login(client, "admin").status_code == 302
    assert client.get("/clients/%00").status_code == 404
    assert client.get("/api/v1/clients/%00").status_code == 404
    response = client.post(
        "/admin/clients/%00/delete",
        data={"csrf_token": csrf_token(client, "/clients/"), "confirm": "y"},
    )
    assert response.status_code == 404
