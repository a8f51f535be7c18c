"""Following things and fanning new posts and replies out to inboxes."""

import pytest
from flask import current_app

from kb.errors import NotFound, ValidationError
from kb.extensions import db
from kb.forum import services as forum
from kb.forum.models import Post
from kb.notifications import services
from kb.notifications.models import Notification, Subscription
from tests.notifications.conftest import (
    follow,
    get_user,
    handle_risk,
    notifications_of,
    publish,
    reply,
)


@pytest.fixture
def people(app, make_user):
    """Two colleagues in 公司银行部, one in 授信审批部, one in 风险管理部."""
    make_user("author", department="公司银行部", display_name="王作者")
    make_user("reader", department="公司银行部", display_name="李读者")
    make_user("other", department="授信审批部", display_name="赵审批")
    make_user("riskman", department="风险管理部", display_name="钱风控")
    with app.app_context():
        handle_risk("风险管理部")
    return app


# -- follow, unfollow and their errors ---------------------------------------


@pytest.mark.parametrize(
    ("kind", "target", "named"),
    [
        ("planet", "36", "planet"),
        ("industry", "ZZ", "ZZ"),
        ("industry", "99", "99"),
        ("type", "rumour", "rumour"),
    ],
)
def test_follow_rejects_unknown_values(people, kind, target, named):
    with people.app_context():
        with pytest.raises(ValidationError) as caught:
            services.follow(db.session, get_user("reader"), kind, target)
        assert named in caught.value.message


@pytest.mark.parametrize("tag", ["", "   ", "坏\u200b标签", "长" * 41])
def test_follow_rejects_bad_tag(people, tag):
    with people.app_context():
        with pytest.raises(ValidationError) as caught:
            services.follow(db.session, get_user("reader"), "tag", tag)
        assert caught.value.field == "target"


def test_follow_rejects_bad_delivery(people):
    with people.app_context():
        with pytest.raises(ValidationError) as caught:
            services.follow(db.session, get_user("reader"), "type", "risk", "hourly")
        assert "hourly" in caught.value.message


@pytest.mark.parametrize("target", ["12345", "abc", "²", "9" * 30, "-1", "0"])
def test_follow_missing_post_is_not_found(people, target):
    with people.app_context():
        with pytest.raises(NotFound):
            services.follow(db.session, get_user("reader"), "post", target)


def test_follow_post_reader_may_not_see(people):
    with people.app_context():
        post_id = publish("author", visibility="department")
        with pytest.raises(NotFound):
            services.follow(db.session, get_user("other"), "post", str(post_id))
        follow("reader", "post", str(post_id))


def test_follow_deactivated_person_is_not_found(people):
    with people.app_context():
        deactivated = get_user("other")
        deactivated.active = False
        db.session.commit()
        with pytest.raises(NotFound):
            services.follow(db.session, get_user("reader"), "user", str(deactivated.id))


def test_normalize_target_stored_forms(people):
    with people.app_context():
        assert services.normalize_target(db.session, "tag", " ＥＳＧ ") == "esg"
        assert services.normalize_target(db.session, "industry", "c") == "C"
        assert services.normalize_target(db.session, "industry", " 36 ") == "36"
        user_id = get_user("author").id
        assert services.normalize_target(db.session, "user", f"0{user_id}") == str(
            user_id
        )


def test_follow_twice_keeps_one_subscription(people):
    with people.app_context():
        follow("reader", "tag", "ESG")
        follow("reader", "tag", "esg", "daily")
        follow("reader", "tag", "Esg")
        rows = db.session.scalars(db.select(Subscription)).all()
        assert len(rows) == 1
        assert rows[0].delivery == "daily"


def test_unfollow_normalizes_tag(people):
    with people.app_context():
        follow("reader", "tag", "esg")
        removed = services.unfollow(db.session, get_user("reader"), "tag", "ＥＳＧ")
        db.session.commit()
        assert removed is not None
        assert db.session.scalars(db.select(Subscription)).all() == []


def test_unfollow_without_subscription(people):
    with people.app_context():
        assert services.unfollow(db.session, get_user("reader"), "type", "lead") is None


def test_unfollow_rejects_unknown_kind(people):
    with people.app_context():
        with pytest.raises(ValidationError) as caught:
            services.unfollow(db.session, get_user("reader"), "planet", "x")
        assert "planet" in caught.value.message


# -- fan-out of new posts -----------------------------------------------------


def test_type_follower_is_notified(people):
    with people.app_context():
        follow("reader", "type", "competitor")
        follow("other", "type", "policy")
        post_id = publish("author", signal_type="competitor")
        received = notifications_of("reader")
        assert [(item.post_id, item.event) for item in received] == [(post_id, "post")]
        assert received[0].reason == "type:competitor"
        assert received[0].delivery == "immediate"
        assert notifications_of("other") == []


@pytest.mark.parametrize("target", ["36", "C"])
def test_industry_follower_is_notified(people, target):
    with people.app_context():
        follow("reader", "industry", target)
        follow("other", "industry", "66")
        publish("author", industry_codes=["36"])
        received = notifications_of("reader")
        assert len(received) == 1
        assert received[0].reason == f"industry:{target}"
        assert notifications_of("other") == []


def test_tag_follower_is_notified(people):
    with people.app_context():
        follow("reader", "tag", "ＥＳＧ")
        follow("other", "tag", "续贷")
        publish("author", tags=["esg", "新能源"])
        assert [item.reason for item in notifications_of("reader")] == ["tag:esg"]
        assert notifications_of("other") == []


def test_person_follower_is_notified(people):
    with people.app_context():
        author_id = get_user("author").id
        follow("reader", "user", str(author_id))
        publish("author")
        publish("other")
        received = notifications_of("reader")
        assert [item.reason for item in received] == [f"user:{author_id}"]


def test_author_not_notified_of_own_post(people):
    with people.app_context():
        follow("author", "type", "market")
        follow("reader", "type", "market")
        publish("author", signal_type="market")
        assert notifications_of("author") == []
        assert len(notifications_of("reader")) == 1


def test_off_delivery_creates_nothing(people):
    with people.app_context():
        follow("reader", "type", "market", "off")
        follow("reader", "tag", "esg", "off")
        publish("author", signal_type="market", tags=["esg"])
        assert notifications_of("reader") == []


def test_strongest_delivery_wins(people):
    with people.app_context():
        follow("reader", "type", "market", "daily")
        follow("reader", "tag", "esg", "immediate")
        follow("other", "type", "market", "daily")
        follow("other", "tag", "esg", "off")
        publish("author", signal_type="market", tags=["esg"])
        reader = notifications_of("reader")
        assert [(item.delivery, item.reason) for item in reader] == [
            ("immediate", "tag:esg")
        ]
        other = notifications_of("other")
        assert [(item.delivery, item.reason) for item in other] == [
            ("daily", "type:market")
        ]


def test_department_post_stays_in_department(people):
    with people.app_context():
        follow("reader", "type", "lead")
        follow("other", "type", "lead")
        publish("author", signal_type="lead", visibility="department")
        assert len(notifications_of("reader")) == 1
        assert notifications_of("other") == []


def test_anonymous_report_skips_reporter_followers(people, make_user):
    make_user("whistle", department="公司银行部", display_name="举报人")
    with people.app_context():
        reporter_id = get_user("whistle").id
        follow("reader", "user", str(reporter_id))
        follow("riskman", "user", str(reporter_id))
        data = forum.PostInput(
            title="某客户疑似挪用贷款",
            body_md="资金流向房地产。",
            severity="high",
        )
        post, _code = forum.create_anonymous_report(
            db.session, data, current_app.config["KB_BODY_MAX_CHARS"], per_hour=30
        )
        db.session.commit()
        assert notifications_of("reader") == []
        risk_items = notifications_of("riskman")
        assert [item.reason for item in risk_items] == ["risk"]
        assert risk_items[0].post_id == post.id
        reasons = db.session.scalars(db.select(Notification.reason)).all()
        assert f"user:{reporter_id}" not in reasons


def test_risk_signal_reaches_risk_department(people):
    with people.app_context():
        post_id = publish(
            "author", title="客户A涉诉", signal_type="risk", severity="medium"
        )
        risk_items = notifications_of("riskman")
        assert [(item.post_id, item.reason, item.delivery) for item in risk_items] == [
            (post_id, "risk", "immediate")
        ]
        assert notifications_of("other") == []
        assert notifications_of("reader") == []


def test_risk_staff_choose_how_they_hear_of_risk(people):
    with people.app_context():
        follow("riskman", "type", "risk", "daily")
        first = publish("author", title="客户B欠息", signal_type="risk", severity="low")
        items = notifications_of("riskman")
        assert [(item.post_id, item.delivery) for item in items] == [(first, "daily")]
        follow("riskman", "type", "risk", "off")
        publish("author", title="客户C停产", signal_type="risk", severity="high")
        assert [item.post_id for item in notifications_of("riskman")] == [first]


def test_hidden_post_leaves_inbox(people, make_user):
    make_user("admin", role="admin", department="信息科技部")
    with people.app_context():
        follow("reader", "type", "market")
        post_id = publish("author", signal_type="market")
        reader = get_user("reader")
        assert services.unread_count(db.session, reader) == 1
        items, total = services.inbox(db.session, reader, 1, 20)
        assert total == 1
        forum.hide_post(
            db.session, db.session.get(Post, post_id), get_user("admin"), "重复内容"
        )
        db.session.commit()
        assert services.unread_count(db.session, reader) == 0
        items, total = services.inbox(db.session, reader, 1, 20)
        assert (items, total) == ([], 0)


def test_reply_notifies_post_followers(people):
    with people.app_context():
        post_id = publish("author")
        first = reply(post_id, "reader")
        author_items = notifications_of("author")
        assert [(item.event, item.reply_id) for item in author_items] == [
            ("reply", first)
        ]
        assert author_items[0].reason == f"post:{post_id}"
        assert notifications_of("reader") == []

        second = reply(post_id, "other", "补充：对方已提供担保。")
        assert [item.reply_id for item in notifications_of("author")] == [
            first,
            second,
        ]
        # The first replier now follows the post too.
        assert [item.reply_id for item in notifications_of("reader")] == [second]
        assert notifications_of("other") == []


def test_reply_notifies_followers_of_replier(people):
    with people.app_context():
        post_id = publish("author")
        follow("riskman", "user", str(get_user("other").id))
        reply_id = reply(post_id, "other")
        items = notifications_of("riskman")
        assert [(item.event, item.reply_id) for item in items] == [("reply", reply_id)]


# -- labels -------------------------------------------------------------------


def test_describe_target_hides_invisible_post_title(people):
    with people.app_context():
        post_id = publish("author", title="仅本部门可见的线索", visibility="department")
        other = get_user("other")
        reader = get_user("reader")
        label = services.describe_target(db.session, other, "post", str(post_id))
        assert label == "不可见的帖子"
        label = services.describe_target(db.session, reader, "post", str(post_id))
        assert label == "仅本部门可见的线索"


def test_describe_reason_names_what_matched(people):
    with people.app_context():
        reader = get_user("reader")
        author_id = get_user("author").id
        cases = {
            "industry:36": "关注的行业：36 汽车制造业",
            "tag:esg": "关注的标签：esg",
            "type:risk": "关注的信号类型：客户风险信号",
            f"user:{author_id}": "关注的人：王作者",
            "post:1": "关注的帖子",
            "risk": "风险信号待处理",
        }
        for reason, expected in cases.items():
            assert services.describe_reason(db.session, reader, reason) == expected
