"""Builders for forum content and notifications, used by the notification tests."""

from flask import current_app
from sqlalchemy import select

from kb.auth.models import Department, User
from kb.extensions import db
from kb.forum import services as forum
from kb.notifications import services
from kb.notifications.models import Notification


def get_user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def handle_risk(department: str) -> None:
    """Make ``department`` one whose staff triage client risk signals."""
    row = db.session.scalar(select(Department).where(Department.name == department))
    row.handles_risk = True
    db.session.commit()


def publish(author: str, title: str = "新能源车企回款放缓", **fields) -> int:
    """Publish a post as ``author`` and return its id; call inside an app context."""
    data = forum.PostInput(
        title=title, body_md=fields.pop("body_md", "正文：关注应收账款周转。"), **fields
    )
    post = forum.create_post(
        db.session, data, get_user(author), current_app.config["KB_BODY_MAX_CHARS"]
    )
    db.session.commit()
    return post.id


def reply(post_id: int, author: str, body: str = "已与客户核实，情况属实。") -> int:
    post = db.session.get(forum.Post, post_id)
    created = forum.add_reply(
        db.session,
        post,
        body,
        get_user(author),
        current_app.config["KB_BODY_MAX_CHARS"],
    )
    db.session.commit()
    return created.id


def follow(username: str, kind: str, target: str, delivery: str | None = None):
    subscription = services.follow(
        db.session, get_user(username), kind, target, delivery
    )
    db.session.commit()
    return subscription


def notifications_of(username: str) -> list[Notification]:
    user = get_user(username)
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    )
