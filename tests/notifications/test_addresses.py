"""E-mail addresses of accounts, which the daily digest is sent to."""

import pytest

from kb.auth.models import User
from kb.auth.services import create_user
from kb.errors import ValidationError
from kb.extensions import db


def test_users_create_stores_email(runner, app):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "liwen",
            "--department",
            "风险管理部",
            "--email",
            " liwen@bank.example ",
            "--password-stdin",
        ],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "liwen"))
        assert user.email == "liwen@bank.example"


def test_users_create_without_email(runner, app):
    result = runner.invoke(
        args=["users", "create", "liwen", "--department", "d", "--password-stdin"],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "liwen"))
        assert user.email == ""


def test_users_create_rejects_bad_email(runner, app):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "liwen",
            "--department",
            "d",
            "--email",
            "liwen.bank.example",
            "--password-stdin",
        ],
        input="a-long-password\n",
    )
    assert result.exit_code == 1
    assert "liwen.bank.example" in result.output
    with app.app_context():
        assert (
            db.session.scalar(db.select(User).where(User.username == "liwen")) is None
        )


@pytest.mark.parametrize(
    "email",
    [
        "no-at-sign",
        "two@@bank.example",
        "a@b@bank.example",
        "@bank.example",
        "liwen@",
        "li wen@bank.example",
        "li\u3000wen@bank.example",
        "x" * 250 + "@b.cn",
    ],
)
def test_create_user_rejects_email_shape(app, email):
    with app.app_context():
        with pytest.raises(ValidationError) as caught:
            create_user(
                db.session, "liwen", "a-long-password", "staff", "d", email=email
            )
        assert caught.value.field == "email"
        assert repr(email.strip()[:80]) in caught.value.message


def test_markup_in_addresses_is_rejected(app):
    from kb.auth.models import User
    from kb.auth.services import set_email
    from kb.errors import ValidationError

    with app.app_context():
        user = User(username="u", display_name="u", password_hash="x")
        for bad in ("<script>@x.example", "a@b", "a b@c.example", "a@-"):
            with pytest.raises(ValidationError) as caught:
                set_email(user, bad)
            assert caught.value.field == "email", bad


def test_allowed_domains_keep_digests_inside(app):
    from kb.auth.models import User
    from kb.auth.services import set_email
    from kb.errors import ValidationError

    app.config["KB_MAIL_DOMAINS"] = "bank.example, branch.bank.example"
    with app.app_context():
        user = User(username="u", display_name="u", password_hash="x")
        assert set_email(user, "wang@Bank.Example") == "wang@Bank.Example"
        with pytest.raises(ValidationError) as caught:
            set_email(user, "wang@gmail.example")
        assert "bank.example" in caught.value.message
