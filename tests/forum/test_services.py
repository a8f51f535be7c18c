"""Forum services: validation, audiences, revisions, marks, moderation, risk."""

import pytest
from sqlalchemy import select

from kb.auth.models import Department, User
from kb.errors import NotFound, PermissionDenied, RateLimited
from kb.extensions import db
from kb.forum import access, services
from kb.forum.models import (
    AnonymousReportSlot,
    Post,
    PostRevision,
    Reply,
    RiskStatusChange,
)
from tests.forum.conftest import add_reply, write_post

BODY_MAX = 300_000


def _user(name: str) -> User:
    return db.session.scalar(select(User).where(User.username == name))


def _department(name: str) -> Department:
    return db.session.scalar(select(Department).where(Department.name == name))


def test_validation_names_every_bad_field(app, people):
    with app.app_context():
        data = services.PostInput(
            title="\u200b ",
            body_md="   ",
            signal_type="rumour",
            visibility="secret",
            industry_codes=["99"],
            tags=["a\u200bb"],
        )
        errors = services.validate_post(db.session, data, BODY_MAX)
    assert set(errors) == {
        "title",
        "body_md",
        "signal_type",
        "visibility",
        "industries",
        "tags",
    }
    assert "rumour" in str(errors["signal_type"])
    assert "99" in str(errors["industries"])


def test_risk_signal_severity_and_audience(app, people):
    with app.app_context():
        data = services.PostInput(
            title="t",
            body_md="b",
            signal_type="risk",
            visibility="departments",
            audience_ids=[9999],
        )
        errors = services.validate_post(db.session, data, BODY_MAX)
    assert set(errors) == {"severity", "audience"}
    assert "9999" in str(errors["audience"])


def test_department_post_is_seen_by_its_department_only(app, people):
    post_id = write_post(app, "corp", visibility="department")
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert [d.name for d in post.audience] == ["公司金融部"]
        assert access.can_view_post(_user("corp2"), post)
        assert not access.can_view_post(_user("credit"), post)
        assert not access.can_view_post(_user("risk"), post)
        assert access.can_view_post(_user("admin"), post)
        visible = db.session.scalars(
            select(Post.id).where(access.visible_posts(_user("credit")))
        ).all()
        assert post_id not in visible


def test_restricted_risk_signal_audience(app, people):
    post_id = write_post(
        app,
        "corp",
        signal_type="risk",
        severity="medium",
        visibility="departments",
        audience=["授信审批部"],
    )
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert access.can_view_post(_user("credit"), post)
        assert access.can_view_post(_user("risk"), post)
        # The author can read it although the own department was not chosen.
        assert access.can_view_post(_user("corp"), post)
        assert not access.can_view_post(_user("corp2"), post)
        assert post.status == "open"
        assert [c.to_status for c in post.status_changes] == ["open"]


def test_edit_keeps_revisions_and_unchanged_edit_adds_none(app, people):
    post_id = write_post(app, "corp", title="初稿")
    with app.app_context():
        post = db.session.get(Post, post_id)
        author = _user("corp")
        data = services.PostInput(title="二稿", body_md=post.body_md)
        assert services.update_post(db.session, post, data, author, BODY_MAX)
        assert not services.update_post(db.session, post, data, author, BODY_MAX)
        db.session.commit()
        assert post.revision_count == 2
        assert [r.title for r in post.revisions] == ["二稿", "初稿"]
        with pytest.raises(PermissionDenied):
            services.update_post(db.session, post, data, _user("corp2"), BODY_MAX)


def test_replies_count_quotes_and_hiding(app, people):
    post_id = write_post(app, "corp")
    first = add_reply(app, "credit", post_id, "第一条")
    with app.app_context():
        post = db.session.get(Post, post_id)
        second = services.add_reply(
            db.session, post, "同意楼上", _user("corp2"), BODY_MAX, quote_of_id=first
        )
        assert second.quote_of.id == first
        assert post.reply_count == 2
        with pytest.raises(services.FormErrors) as caught:
            services.add_reply(
                db.session, post, "x", _user("corp2"), BODY_MAX, quote_of_id=424242
            )
        assert "quote_of" in caught.value.errors
        reply = db.session.get(Reply, first)
        services.hide_reply(db.session, reply, _user("admin"), "与主题无关")
        assert post.reply_count == 1
        assert not access.can_view_reply(_user("corp"), reply)
        assert access.can_view_reply(_user("admin"), reply)
        services.unhide_reply(db.session, reply, _user("admin"))
        assert post.reply_count == 2
        with pytest.raises(PermissionDenied):
            services.hide_reply(db.session, reply, _user("corp"), "x")


def test_reply_to_unseen_post_rejected(app, people):
    post_id = write_post(app, "corp", visibility="department")
    with app.app_context():
        post = db.session.get(Post, post_id)
        with pytest.raises(NotFound):
            services.add_reply(db.session, post, "偷看", _user("credit"), BODY_MAX)


def test_useful_is_one_mark_per_person_and_toggles(app, people):
    post_id = write_post(app, "corp")
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert services.toggle_useful(db.session, _user("credit"), post=post)
        assert services.toggle_useful(db.session, _user("risk"), post=post)
        assert post.useful_count == 2
        assert not services.toggle_useful(db.session, _user("credit"), post=post)
        assert post.useful_count == 1


def test_views_count_distinct_readers_but_not_the_author(app, people):
    post_id = write_post(app, "corp")
    with app.app_context():
        post = db.session.get(Post, post_id)
        for name in ("corp", "credit", "credit", "risk"):
            services.record_view(db.session, _user(name), post)
        db.session.refresh(post)
        assert post.view_count == 2


def test_hidden_post_disappears_for_everyone_but_admins(app, people):
    post_id = write_post(app, "corp")
    with app.app_context():
        post = db.session.get(Post, post_id)
        with pytest.raises(services.FormErrors):
            services.hide_post(db.session, post, _user("admin"), "  ")
        services.hide_post(db.session, post, _user("admin"), "含客户隐私")
        db.session.commit()
        assert not access.can_view_post(_user("corp"), post)
        assert not access.can_view_post(_user("credit"), post)
        assert access.can_view_post(_user("admin"), post)
        with pytest.raises(NotFound):
            services.get_visible_post(db.session, _user("corp"), post_id)


def test_status_history_and_closing_note(app, people):
    post_id = write_post(app, "corp", signal_type="risk", severity="high")
    with app.app_context():
        post = db.session.get(Post, post_id)
        risk = _user("risk")
        with pytest.raises(PermissionDenied):
            services.change_status(db.session, post, _user("credit"), "handling", "")
        services.change_status(db.session, post, risk, "handling", "已联系客户")
        with pytest.raises(services.FormErrors) as caught:
            services.change_status(db.session, post, risk, "closed", "  ")
        assert "note" in caught.value.errors
        with pytest.raises(services.FormErrors):
            services.change_status(db.session, post, risk, "handling", "")
        services.change_status(db.session, post, risk, "closed", "客户已补充担保")
        db.session.commit()
        history = db.session.scalars(
            select(RiskStatusChange)
            .where(RiskStatusChange.post_id == post_id)
            .order_by(RiskStatusChange.id)
        ).all()
        assert [(h.from_status, h.to_status) for h in history] == [
            (None, "open"),
            ("open", "handling"),
            ("handling", "closed"),
        ]
        assert post.outcome_note == "客户已补充担保"
        assert post.closed_by.username == "risk"
        services.change_status(db.session, post, _user("admin"), "open", "重新打开")
        assert post.closed_by is None
        assert post.outcome_note == ""


def test_anonymous_report_and_receipt(app, people):
    with app.app_context():
        data = services.PostInput(
            title="某客户疑似虚增收入", body_md="发票与物流单据不符。", severity="high"
        )
        post, code = services.create_anonymous_report(db.session, data, BODY_MAX, 30)
        db.session.commit()
        assert post.author_id is None
        assert post.author_department_id is None
        assert post.anonymous
        assert post.signal_type == "risk"
        assert post.audience == []
        assert post.visibility == "departments"
        assert all(r.edited_by_id is None for r in post.revisions)
        assert all(c.changed_by_id is None for c in post.status_changes)
        assert code not in post.receipt_digest
        messy = " " + code.lower().replace("-", " ") + " "
        assert services.post_for_receipt(db.session, messy).id == post.id
        with pytest.raises(NotFound):
            services.post_for_receipt(db.session, "AAAA-BBBB-CCCC-DDDD")
        assert access.can_view_post(_user("risk"), post)
        assert not access.can_view_post(_user("corp"), post)


def test_anonymous_reports_have_a_bank_wide_hourly_limit(app, people):
    with app.app_context():
        for number in range(2):
            data = services.PostInput(
                title=f"报告{number}", body_md="内容", severity="low"
            )
            services.create_anonymous_report(db.session, data, BODY_MAX, 2)
        data = services.PostInput(title="第三份", body_md="内容", severity="low")
        with pytest.raises(RateLimited) as caught:
            services.create_anonymous_report(db.session, data, BODY_MAX, 2)
        assert 0 < caught.value.retry_after <= 3600
        slots = db.session.scalars(select(AnonymousReportSlot)).all()
        assert [slot.count for slot in slots] == [2]


def test_admin_cannot_reply_to_a_hidden_post(app, people):
    post_id = write_post(app, "corp")
    with app.app_context():
        post = db.session.get(Post, post_id)
        admin = _user("admin")
        services.hide_post(db.session, post, admin, "重复")
        with pytest.raises(services.FormErrors) as caught:
            services.add_reply(db.session, post, "补充", admin, BODY_MAX)
        assert "恢复显示" in str(caught.value.errors["body_md"])


def test_post_for_many_departments_keeps_audience(app, people):
    # 200 department ids and their commas exceed the former 500-character column.
    with app.app_context():
        db.session.add_all(
            Department(name=f"支行{number:03d}") for number in range(200)
        )
        db.session.commit()
        names = list(db.session.scalars(select(Department.name)))
    post_id = write_post(app, "corp", visibility="departments", audience=names)
    with app.app_context():
        post = db.session.get(Post, post_id)
        revision = db.session.scalars(
            select(PostRevision).where(PostRevision.post_id == post_id)
        ).one()
        assert len(post.audience) == len(names)
        stored = sorted(int(value) for value in revision.audience_ids.split(","))
        assert stored == sorted(department.id for department in post.audience)
        assert len(revision.audience_ids) > 500
