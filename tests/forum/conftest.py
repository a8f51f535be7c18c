"""Forum fixtures: staff in several departments and helpers to write posts."""

import pytest

from kb.auth.models import Department, User
from kb.extensions import db
from kb.forum import services
from tests.conftest import login


@pytest.fixture
def people(app, make_user):
    """Accounts in three departments; 风险管理部 handles risk signals."""
    ids = {
        "corp": make_user("corp", department="公司金融部", display_name="王公司"),
        "corp2": make_user("corp2", department="公司金融部", display_name="李公司"),
        "credit": make_user("credit", department="授信审批部", display_name="赵授信"),
        "risk": make_user("risk", department="风险管理部", display_name="钱风险"),
        "admin": make_user(
            "admin", role="admin", department="合规部", display_name="孙管理"
        ),
    }
    with app.app_context():
        department = db.session.query(Department).filter_by(name="风险管理部").one()
        department.handles_risk = True
        db.session.commit()
    return ids


def write_post(app, author: str, **fields) -> int:
    """Publish a post as ``author`` (a username) through the service; its id."""
    with app.app_context():
        user = db.session.query(User).filter_by(username=author).one()
        audience = fields.pop("audience", [])
        audience_ids = [
            db.session.query(Department).filter_by(name=name).one().id
            for name in audience
        ]
        data = services.PostInput(
            title=fields.pop("title", "钢材价格本周上涨"),
            body_md=fields.pop("body_md", "螺纹钢现货价格上涨 5.2%。"),
            audience_ids=audience_ids,
            **fields,
        )
        post = services.create_post(db.session, data, user, 300_000)
        db.session.commit()
        return post.id


def add_reply(app, author: str, post_id: int, body: str = "收到，谢谢。") -> int:
    with app.app_context():
        from kb.forum.models import Post

        user = db.session.query(User).filter_by(username=author).one()
        post = db.session.get(Post, post_id)
        reply = services.add_reply(db.session, post, body, user, 300_000)
        db.session.commit()
        return reply.id


def sign_in(client, username: str):
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client
