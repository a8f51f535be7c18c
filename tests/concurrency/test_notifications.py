"""Follows, unfollows and two digest runs at once."""

import asyncio
import threading

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from kb.extensions import db
from kb.notifications import services
from kb.notifications.digest import send
from kb.notifications.models import Notification, Subscription
from tests.concurrency import (
    STEP_TIMEOUT,
    Call,
    _wait_until_blocked_or_done,
    overlap,
    user,
)
from tests.forum.conftest import people  # noqa: F401
from tests.notifications.conftest import follow, publish
from tests.notifications.test_digest import RecordingHandler, free_port


def subscriptions(username: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Subscription.id)).where(
            Subscription.user_id == user(username).id
        )
    )


def test_follow_twice_subscribes_once(app, people):  # noqa: F811
    def following():
        return services.follow(db.session, user("corp"), "tag", "氢能源").id

    first, second = overlap(app, following, following)

    assert first.error is None
    assert second.error is None
    assert first.result == second.result
    with app.app_context():
        assert subscriptions("corp") == 1


def test_unfollow_twice_removes_once(app, people):  # noqa: F811
    with app.app_context():
        follow("corp", "tag", "氢能源")

    def unfollowing():
        removed = services.unfollow(db.session, user("corp"), "tag", "氢能源")
        return removed is not None

    first, second = overlap(app, unfollowing, unfollowing)

    assert first.error is None
    assert second.error is None
    assert first.result is True
    assert second.result is False
    with app.app_context():
        assert subscriptions("corp") == 0


class HoldingHandler(RecordingHandler):
    """Record messages, keeping the first one in DATA until ``release`` is set."""

    def __init__(self):
        super().__init__()
        self.first_arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if not self.first_arrived.is_set():
            self.first_arrived.set()
            await asyncio.to_thread(self.release.wait, STEP_TIMEOUT)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def holding_smtp(app):
    """A real SMTP server on 127.0.0.1 that delays the first message it receives."""
    handler = HoldingHandler()
    loop = asyncio.new_event_loop()
    controller = Controller(handler, loop=loop, hostname="127.0.0.1", port=free_port())
    controller.start()
    app.config.update(
        KB_SMTP_HOST="127.0.0.1",
        KB_SMTP_PORT=controller.port,
        KB_SMTP_TIMEOUT=STEP_TIMEOUT,
        KB_MAIL_FROM="kb@bank.example",
    )
    yield handler
    handler.release.set()
    controller.stop()
    loop.close()


def test_two_digest_runs_mail_once(app, people, holding_smtp):  # noqa: F811
    with app.app_context():
        user("credit").email = "credit@bank.example"
        db.session.commit()
        follow("credit", "type", "market", "daily")
        publish("corp", title="钢材价格回落", signal_type="market")

    def sending():
        return send(db.session).users_mailed

    first = Call(app, sending)
    first.start()
    # The first run is now waiting in the SMTP server's DATA step.
    assert holding_smtp.first_arrived.wait(STEP_TIMEOUT)
    second = Call(app, sending)
    second.start()
    _wait_until_blocked_or_done(app, second)
    holding_smtp.release.set()
    first.join(STEP_TIMEOUT)
    second.join(STEP_TIMEOUT)

    assert first.error is None
    assert second.error is None
    assert first.result == 1
    assert second.result == 0
    assert len(holding_smtp.messages) == 1
    with app.app_context():
        pending = db.session.scalar(
            sa.select(sa.func.count(Notification.id)).where(
                Notification.delivery == "daily",
                Notification.digested_at.is_(None),
            )
        )
        assert pending == 0
