"""Account services: users, passwords, tokens."""

import pytest

from kb.auth import services
from kb.auth.models import User
from kb.errors import Conflict, ValidationError
from kb.extensions import db


def test_password_hash_is_argon2(app):
    with app.app_context():
        user = services.create_user(
            db.session, "alice", "long-password-1", "staff", "合规部"
        )
        assert user.password_hash.startswith("$argon2id$")
        assert services.verify_password(user, "long-password-1")
        assert not services.verify_password(user, "long-password-2")


def test_duplicate_username_conflict(app):
    with app.app_context():
        services.create_user(db.session, "alice", "long-password-1", "staff", "合规部")
        with pytest.raises(Conflict) as error:
            services.create_user(
                db.session, "ALICE", "long-password-1", "staff", "合规部"
            )
        assert error.value.field == "username"


@pytest.mark.parametrize(
    ("username", "password", "role", "field"),
    [
        ("a", "long-password-1", "staff", "username"),
        ("bad name", "long-password-1", "staff", "username"),
        ("alice", "short", "staff", "password"),
        ("alice", "long-password-1", "root", "role"),
    ],
)
def test_create_user_rejects_bad_input(app, username, password, role, field):
    with app.app_context():
        with pytest.raises(ValidationError) as error:
            services.create_user(db.session, username, password, role, "合规部")
        assert error.value.field == field


@pytest.mark.parametrize(
    ("department", "display_name", "field"),
    [
        ("部" * 101, None, "department"),
        ("合规部", "名" * 101, "display_name"),
    ],
)
def test_create_user_rejects_long_names(app, department, display_name, field):
    with app.app_context():
        with pytest.raises(ValidationError) as error:
            services.create_user(
                db.session,
                "alice",
                "long-password-1",
                "staff",
                department,
                display_name,
            )
        assert error.value.field == field
        assert "最长 100 个字符" in error.value.message


def test_create_user_accepts_longest_names(app):
    with app.app_context():
        user = services.create_user(
            db.session, "alice", "long-password-1", "staff", "部" * 100, "名" * 100
        )
        db.session.commit()
        assert user.department.name == "部" * 100
        assert user.display_name == "名" * 100


def test_create_token_rejects_long_name(app):
    with app.app_context():
        user = services.create_user(
            db.session, "alice", "long-password-1", "staff", "合规部"
        )
        with pytest.raises(ValidationError) as error:
            services.create_token(db.session, user, "t" * 101)
        assert error.value.field == "name"
        assert "最长 100 个字符" in error.value.message


def test_token_round_trip(app):
    with app.app_context():
        user = services.create_user(
            db.session, "alice", "long-password-1", "staff", "合规部"
        )
        token = services.create_token(db.session, user, "test")
        assert services.user_for_token(db.session, token).id == user.id
        assert services.user_for_token(db.session, token + "x") is None
        stored = db.session.scalar(db.select(User.id))
        assert stored == user.id


def test_load_user_checks_epoch(app):
    with app.app_context():
        user = services.create_user(
            db.session, "alice", "long-password-1", "staff", "合规部"
        )
        db.session.commit()
        login_id = user.get_id()
        assert services.load_user_from_id(login_id).id == user.id
        services.sign_out_everywhere(user)
        db.session.commit()
        assert services.load_user_from_id(login_id) is None
        assert services.load_user_from_id("garbage") is None
