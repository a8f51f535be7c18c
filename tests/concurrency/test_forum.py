"""Forum writes that overlap: counters, first views, marks, tags and follows."""

import sqlalchemy as sa

from kb.extensions import db
from kb.forum import services
from kb.forum.models import Post, PostView, Reply, RiskStatusChange, UsefulMark
from kb.notifications.models import Subscription
from kb.taxonomy.models import Tag
from tests.concurrency import overlap, user
from tests.conftest import uses_postgres
from tests.forum.conftest import people, write_post  # noqa: F401

BODY_MAX = 300_000


def replying(post_id: int, username: str, body: str):
    def work():
        post = db.session.get(Post, post_id)
        return services.add_reply(db.session, post, body, user(username), BODY_MAX).id

    return work


def test_replies_at_once_count_both(app, people):  # noqa: F811
    post_id = write_post(app, "corp")

    first, second = overlap(
        app, replying(post_id, "corp2", "第一条"), replying(post_id, "credit", "第二条")
    )

    assert first.error is None
    assert second.error is None
    with app.app_context():
        post = db.session.get(Post, post_id)
        replies = db.session.scalar(
            sa.select(sa.func.count(Reply.id)).where(Reply.post_id == post_id)
        )
        assert replies == 2
        assert post.reply_count == 2


def test_same_author_replies_follow_once(app, people):  # noqa: F811
    post_id = write_post(app, "corp")

    first, second = overlap(
        app, replying(post_id, "corp2", "第一条"), replying(post_id, "corp2", "第二条")
    )

    assert first.error is None
    assert second.error is None
    with app.app_context():
        follows = db.session.scalar(
            sa.select(sa.func.count(Subscription.id)).where(
                Subscription.user_id == people["corp2"],
                Subscription.kind == "post",
                Subscription.target == str(post_id),
            )
        )
        assert follows == 1


def test_new_tag_in_two_posts_at_once(app, people):  # noqa: F811
    def posting(username: str, title: str):
        def work():
            data = services.PostInput(title=title, body_md="正文", tags=["氢能源"])
            return services.create_post(db.session, data, user(username), BODY_MAX).id

        return work

    first, second = overlap(
        app, posting("corp", "氢能源一"), posting("credit", "氢能源二")
    )

    assert first.error is None
    assert second.error is None
    with app.app_context():
        tags = db.session.scalars(sa.select(Tag).where(Tag.name == "氢能源")).all()
        assert len(tags) == 1
        for post_id in (first.result, second.result):
            names = [tag.name for tag in db.session.get(Post, post_id).tags]
            assert names == ["氢能源"]


def test_first_view_twice_counts_once(app, people):  # noqa: F811
    post_id = write_post(app, "corp")

    def viewing():
        post = db.session.get(Post, post_id)
        services.record_view(db.session, user("credit"), post)

    first, second = overlap(app, viewing, viewing)

    assert first.error is None
    assert second.error is None
    with app.app_context():
        assert db.session.get(Post, post_id).view_count == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PostView)) == 1


def toggling(post_id: int, username: str):
    def work():
        post = db.session.get(Post, post_id)
        return services.toggle_useful(db.session, user(username), post=post)

    return work


def useful_state(post_id: int) -> tuple[int, int]:
    marks = db.session.scalar(
        sa.select(sa.func.count(UsefulMark.id)).where(UsefulMark.post_id == post_id)
    )
    return marks, db.session.get(Post, post_id).useful_count


def test_useful_mark_twice_counts_once(app, people):  # noqa: F811
    post_id = write_post(app, "corp")

    first, second = overlap(
        app, toggling(post_id, "credit"), toggling(post_id, "credit")
    )

    assert first.error is None
    assert second.error is None
    with app.app_context():
        marks, useful_count = useful_state(post_id)
    assert useful_count == marks
    if not uses_postgres():
        # SQLite runs the second toggle after the first commits, so it flips back.
        return
    assert first.result is True
    assert second.result is True
    assert marks == 1


def test_useful_unmark_twice_counts_once(app, people):  # noqa: F811
    post_id = write_post(app, "corp")
    with app.app_context():
        toggling(post_id, "credit")()
        toggling(post_id, "risk")()
        db.session.commit()

    first, second = overlap(
        app, toggling(post_id, "credit"), toggling(post_id, "credit")
    )

    assert first.error is None
    assert second.error is None
    with app.app_context():
        marks, useful_count = useful_state(post_id)
    assert useful_count == marks
    if not uses_postgres():
        # SQLite runs the second toggle after the first commits, so it flips back.
        return
    assert first.result is False
    assert second.result is False
    assert marks == 1


def test_post_edits_number_revisions(app, people):  # noqa: F811
    post_id = write_post(app, "corp")

    def editing(title: str):
        def work():
            data = services.PostInput(title=title, body_md="正文已更新")
            post = db.session.get(Post, post_id)
            return services.update_post(db.session, post, data, user("corp"), BODY_MAX)

        return work

    first, second = overlap(app, editing("改一"), editing("改二"))

    assert first.error is None
    assert second.error is None
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert sorted(revision.number for revision in post.revisions) == [1, 2, 3]
        assert post.revision_count == 3
        assert post.title == "改二"


def test_risk_status_change_once(app, people):  # noqa: F811
    post_id = write_post(app, "corp", signal_type="risk", severity="high")

    def handling():
        post = db.session.get(Post, post_id)
        services.change_status(db.session, post, user("risk"), "handling", "")

    first, second = overlap(app, handling, handling)

    assert first.error is None
    assert isinstance(second.error, services.FormErrors)
    assert "status" in second.error.errors
    with app.app_context():
        changes = db.session.scalars(
            sa.select(RiskStatusChange.to_status)
            .where(RiskStatusChange.post_id == post_id)
            .order_by(RiskStatusChange.id)
        ).all()
        assert changes == ["open", "handling"]


def test_hide_reply_twice_counts_once(app, people):  # noqa: F811
    post_id = write_post(app, "corp")
    reply_ids = [replying(post_id, "credit", text) for text in ("一", "二")]
    with app.app_context():
        reply_ids = [work() for work in reply_ids]
        db.session.commit()

    def hiding():
        reply = db.session.get(Reply, reply_ids[0])
        services.hide_reply(db.session, reply, user("admin"), "重复内容")

    first, second = overlap(app, hiding, hiding)

    assert first.error is None
    assert second.error is None
    with app.app_context():
        assert db.session.get(Post, post_id).reply_count == 1


def hidden_reply(app, post_id: int) -> int:
    """Add a reply by credit to ``post_id`` and hide it; return its id."""
    with app.app_context():
        reply_id = replying(post_id, "credit", "待恢复的回复")()
        reply = db.session.get(Reply, reply_id)
        services.hide_reply(db.session, reply, user("admin"), "重复内容")
        db.session.commit()
        return reply_id


def unhiding(reply_id: int):
    def work():
        reply = db.session.get(Reply, reply_id)
        services.unhide_reply(db.session, reply, user("admin"))

    return work


def test_unhide_reply_twice_counts_once(app, people):  # noqa: F811
    post_id = write_post(app, "corp")
    reply_id = hidden_reply(app, post_id)

    first, second = overlap(app, unhiding(reply_id), unhiding(reply_id))

    assert first.error is None
    assert second.error is None
    with app.app_context():
        assert db.session.get(Reply, reply_id).hidden is False
        assert db.session.get(Post, post_id).reply_count == 1


def test_unhide_during_reply_counts_both(app, people):  # noqa: F811
    post_id = write_post(app, "corp")
    reply_id = hidden_reply(app, post_id)

    first, second = overlap(
        app, replying(post_id, "corp2", "新回复"), unhiding(reply_id)
    )

    assert first.error is None
    assert second.error is None
    with app.app_context():
        assert db.session.get(Post, post_id).reply_count == 2
