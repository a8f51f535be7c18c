"""The account administration page."""

from kb.auth.models import User
from kb.extensions import db
from tests.conftest import PASSWORD, csrf_token, login


def _create(client, **fields):
    data = {
        "csrf_token": csrf_token(client, "/admin/users/"),
        "username": "wangfang",
        "display_name": "王芳",
        "department": "交易银行部",
        "role": "staff",
        "password": PASSWORD,
        "email": "wangfang@bank.example",
    }
    data.update(fields)
    return client.post("/admin/users/", data=data)


def test_admin_creates_an_account_with_an_address(app, client, make_user):
    make_user("boss", role="admin", department="合规部")
    login(client, "boss")
    response = _create(client)
    assert response.status_code == 302
    with app.app_context():
        user = db.session.query(User).filter_by(username="wangfang").one()
        assert user.email == "wangfang@bank.example"
        assert user.department.name == "交易银行部"


def test_bad_address_is_named_and_the_form_kept(app, client, make_user):
    make_user("boss", role="admin", department="合规部")
    login(client, "boss")
    response = _create(client, email="wangfang@@bank")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "wangfang@@bank" in page
    assert "王芳" in page
    with app.app_context():
        assert db.session.query(User).filter_by(username="wangfang").count() == 0


def test_staff_may_not_manage_accounts(client, make_user):
    make_user("manager")
    login(client, "manager")
    assert client.get("/admin/users/").status_code == 403
