"""Training fixtures: the forum's people plus an expert who writes courses."""

import pytest

from kb.auth.models import User
from kb.extensions import db
from kb.training import services
from kb.training.models import Course
from tests.forum.conftest import people  # noqa: F401


@pytest.fixture
def trainers(app, make_user, people):  # noqa: F811
    """The forum's people plus two experts in 培训部; returns every id by name."""
    ids = dict(people)
    ids["teacher"] = make_user(
        "teacher", role="expert", department="培训部", display_name="周老师"
    )
    ids["teacher2"] = make_user(
        "teacher2", role="expert", department="培训部", display_name="吴老师"
    )
    return ids


def make_course(
    app,
    author: str = "teacher",
    title: str = "供应链金融入门",
    lessons: tuple[str, ...] = ("第一课 概念", "第二课 产品"),
    industry_codes: tuple[str, ...] = (),
    description: str = "面向客户经理的入门课程。",
) -> int:
    """Create a course with ``lessons`` through the services; return its id."""
    with app.app_context():
        user = db.session.query(User).filter_by(username=author).one()
        course = services.create_course(
            db.session,
            services.CourseInput(title, description, list(industry_codes)),
            user,
        )
        for number, lesson_title in enumerate(lessons, start=1):
            services.add_lesson(
                db.session,
                course,
                services.LessonInput(lesson_title, f"课时 {number} 的正文。"),
            )
        db.session.commit()
        return course.id


def lesson_ids(app, course_id: int) -> list[int]:
    with app.app_context():
        return [lesson.id for lesson in db.session.get(Course, course_id).lessons]


def client_for(app, username: str):
    """Return a new test client signed in as ``username``."""
    from tests.forum.conftest import sign_in

    return sign_in(app.test_client(), username)
