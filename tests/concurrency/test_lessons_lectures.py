"""Lesson order, lecture edits, cancellations and withdrawals at once."""

from datetime import timedelta

import sqlalchemy as sa

from kb.extensions import db
from kb.timeutil import utcnow
from kb.training import lectures
from kb.training import services as training
from kb.training.models import Course, Lecture, LectureSignup, Lesson, LessonCompletion
from tests.concurrency import overlap, signing_up, user
from tests.training.conftest import (  # noqa: F401
    lesson_ids,
    make_course,
    people,
    trainers,
)


def positions(course_id: int) -> list[tuple[str, int]]:
    """Return (title, position) of the course's lessons, in position order."""
    rows = db.session.execute(
        sa.select(Lesson.title, Lesson.position)
        .where(Lesson.course_id == course_id)
        .order_by(Lesson.position, Lesson.id)
    )
    return [tuple(row) for row in rows]


def test_lessons_added_at_once_ordered(app, trainers):  # noqa: F811
    course_id = make_course(app, lessons=("一", "二"))

    def adding(title: str):
        def work():
            course = db.session.get(Course, course_id)
            data = training.LessonInput(title, "正文。")
            return training.add_lesson(db.session, course, data).id

        return work

    first, second = overlap(app, adding("三"), adding("四"))

    assert first.error is None
    assert second.error is None
    with app.app_context():
        assert positions(course_id) == [("一", 0), ("二", 1), ("三", 2), ("四", 3)]


def test_lessons_moved_at_once_ordered(app, trainers):  # noqa: F811
    course_id = make_course(app, lessons=("甲", "乙", "丙"))
    first_id, _second_id, third_id = lesson_ids(app, course_id)

    def moving(lesson_id: int, offset: int):
        def work():
            lesson = db.session.get(Lesson, lesson_id)
            return training.move_lesson(db.session, lesson, offset)

        return work

    first, second = overlap(app, moving(first_id, 1), moving(third_id, -1))

    assert first.error is None
    assert second.error is None
    assert first.result is True
    assert second.result is True
    with app.app_context():
        assert positions(course_id) == [("乙", 0), ("丙", 1), ("甲", 2)]


def make_lecture(app, capacity: int | None) -> int:
    with app.app_context():
        start = utcnow() + timedelta(days=3)
        lecture = Lecture(
            title="供应链金融实务讲座",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            place="总行三楼会议室",
            capacity=capacity,
            sequence=0,
        )
        db.session.add(lecture)
        db.session.commit()
        return lecture.id


def editing(lecture_id: int, title: str, capacity: str = ""):
    """Check and save an edit as the lecture form does; return the errors."""

    def work():
        lecture = db.session.get(Lecture, lecture_id)
        data = lectures.LectureInput(
            title=title,
            starts_at="2030-03-01T09:30",
            ends_at="2030-03-01T11:00",
            place="总行三楼会议室",
            capacity=capacity,
        )
        checked, errors = lectures.check_lecture(db.session, data, lecture)
        if checked is not None:
            lectures.update_lecture(db.session, lecture, checked)
        return errors

    return work


def test_capacity_cut_during_sign_up(app, trainers):  # noqa: F811
    lecture_id = make_lecture(app, capacity=2)
    with app.app_context():
        signing_up(lecture_id, "corp")()
        db.session.commit()

    first, second = overlap(
        app, signing_up(lecture_id, "credit"), editing(lecture_id, "讲座", "1")
    )

    assert first.error is None
    assert second.error is None
    assert first.result is True
    assert "capacity" in second.result
    with app.app_context():
        lecture = db.session.get(Lecture, lecture_id)
        assert lecture.capacity == 2
        signups = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(LectureSignup)
            .where(LectureSignup.lecture_id == lecture_id)
        )
        assert signups == 2


def test_lecture_edits_raise_sequence_twice(app, trainers):  # noqa: F811
    lecture_id = make_lecture(app, capacity=None)

    first, second = overlap(
        app, editing(lecture_id, "讲座改一"), editing(lecture_id, "讲座改二")
    )

    assert first.error is None
    assert second.error is None
    assert first.result == {}
    assert second.result == {}
    with app.app_context():
        lecture = db.session.get(Lecture, lecture_id)
        assert lecture.sequence == 2
        assert lecture.title == "讲座改二"


def test_lecture_cancelled_twice_once(app, trainers):  # noqa: F811
    lecture_id = make_lecture(app, capacity=None)

    def cancelling():
        lecture = db.session.get(Lecture, lecture_id)
        return lectures.cancel_lecture(db.session, lecture)

    first, second = overlap(app, cancelling, cancelling)

    assert first.error is None
    assert second.error is None
    assert first.result is True
    assert second.result is False
    with app.app_context():
        lecture = db.session.get(Lecture, lecture_id)
        assert lecture.cancelled is True
        assert lecture.sequence == 1


def test_withdraw_twice_removes_once(app, trainers):  # noqa: F811
    lecture_id = make_lecture(app, capacity=None)
    with app.app_context():
        signing_up(lecture_id, "corp")()
        db.session.commit()

    def withdrawing():
        lecture = db.session.get(Lecture, lecture_id)
        return lectures.withdraw(db.session, user("corp"), lecture)

    first, second = overlap(app, withdrawing, withdrawing)

    assert first.error is None
    assert second.error is None
    assert first.result is True
    assert second.result is False
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(LectureSignup))
        assert count == 0


def test_undo_done_twice_removes_once(app, trainers):  # noqa: F811
    lesson_id = lesson_ids(app, make_course(app))[0]

    def lesson() -> Lesson:
        return db.session.get(Lesson, lesson_id)

    with app.app_context():
        training.mark_done(db.session, user("corp"), lesson())
        db.session.commit()

    def undoing():
        return training.undo_done(db.session, user("corp"), lesson())

    first, second = overlap(app, undoing, undoing)

    assert first.error is None
    assert second.error is None
    assert first.result is True
    assert second.result is False
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(LessonCompletion)
        )
        assert count == 0
