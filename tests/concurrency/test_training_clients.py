"""Lecture seats, lesson records and client records written at once."""

from datetime import timedelta

import sqlalchemy as sa

from kb.clients import services as clients
from kb.clients.models import Client
from kb.errors import Conflict
from kb.extensions import db
from kb.timeutil import utcnow
from kb.training import services as training
from kb.training.models import Lecture, LectureSignup, LessonCompletion
from tests.concurrency import overlap, signing_up, user
from tests.training.conftest import (  # noqa: F401
    lesson_ids,
    make_course,
    people,
    trainers,
)


def make_lecture(app, capacity: int) -> int:
    with app.app_context():
        start = utcnow() + timedelta(days=3)
        lecture = Lecture(
            title="供应链金融实务讲座",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=capacity,
        )
        db.session.add(lecture)
        db.session.commit()
        return lecture.id


def signups(lecture_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LectureSignup)
        .where(LectureSignup.lecture_id == lecture_id)
    )


def test_last_seat_goes_once(app, trainers):  # noqa: F811
    lecture_id = make_lecture(app, capacity=1)

    first, second = overlap(
        app, signing_up(lecture_id, "corp"), signing_up(lecture_id, "credit")
    )

    assert first.error is None
    assert first.result is True
    assert isinstance(second.error, Conflict)
    assert "已满" in str(second.error)
    with app.app_context():
        assert signups(lecture_id) == 1


def test_same_person_signs_up_once(app, trainers):  # noqa: F811
    lecture_id = make_lecture(app, capacity=5)

    first, second = overlap(
        app, signing_up(lecture_id, "corp"), signing_up(lecture_id, "corp")
    )

    assert first.error is None
    assert second.error is None
    assert first.result is True
    assert second.result is False
    with app.app_context():
        assert signups(lecture_id) == 1


def test_lesson_done_twice_records_once(app, trainers):  # noqa: F811
    lesson_id = lesson_ids(app, make_course(app))[0]

    def marking():
        from kb.training.models import Lesson

        lesson = db.session.get(Lesson, lesson_id)
        return training.mark_done(db.session, user("corp"), lesson)

    first, second = overlap(app, marking, marking)

    assert first.error is None
    assert second.error is None
    assert first.result is True
    assert second.result is False
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(LessonCompletion)
        )
        assert count == 1


def test_same_new_client_twice(app):
    def saving(name: str):
        def work():
            data = clients.ClientInput(credit_code="91350100M000100Y43", name=name)
            return clients.upsert(db.session, data)[1]

        return work

    first, second = overlap(app, saving("福州示例有限公司"), saving("福州示例股份公司"))

    assert first.error is None
    assert second.error is None
    assert first.result == "created"
    assert second.result == "updated"
    with app.app_context():
        rows = db.session.scalars(sa.select(Client)).all()
        assert [row.name for row in rows] == ["福州示例股份公司"]
