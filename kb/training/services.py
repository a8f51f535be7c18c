"""Courses, ordered lessons, learning records and the completion report.

Services take a session and never commit; the views commit.
"""

import logging
import unicodedata
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, selectinload

from kb.articles.rendering import render_markdown
from kb.auth.models import Department, User
from kb.errors import ValidationError
from kb.search import outbox
from kb.taxonomy.models import Industry
from kb.taxonomy.services import industries_for_codes, unknown_industry_codes
from kb.timeutil import utcnow
from kb.training.models import Attachment, Course, Lesson, LessonCompletion

logger = logging.getLogger(__name__)

TITLE_MAX = 200
BODY_MAX = 300_000
AUTHOR_ROLES = ("expert", "admin")


# -- permissions -------------------------------------------------------------------


def can_author(user) -> bool:
    """Tell whether ``user`` may create courses and lectures (experts and admins)."""
    return bool(getattr(user, "is_authenticated", False)) and user.role in AUTHOR_ROLES


def can_edit_course(user, course: Course) -> bool:
    """Tell whether ``user`` may change ``course``: its expert author or an admin."""
    if not can_author(user):
        return False
    return user.is_admin or course.author_id == user.id


# -- courses and lessons -----------------------------------------------------------


@dataclass
class CourseInput:
    title: str
    description_md: str = ""
    industry_codes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.description_md = _unix_newlines(self.description_md)


@dataclass
class LessonInput:
    title: str
    body_md: str = ""

    def __post_init__(self):
        self.body_md = _unix_newlines(self.body_md)


def _unix_newlines(text: str) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def _title_error(raw: str):
    title = (raw or "").strip()
    if not title:
        return _l("标题不能为空。")
    if any(unicodedata.category(char) == "Cc" for char in title):
        return _l("标题含有控制字符，请删除后再提交。")
    if len(title) > TITLE_MAX:
        return _l(
            "标题最长 %(max)s 个字符，当前 %(n)s 个。", max=TITLE_MAX, n=len(title)
        )
    return None


def _body_error(text: str, label):
    if len(text) > BODY_MAX:
        return _l(
            "%(label)s最长 %(max)s 个字符，当前 %(n)s 个。",
            label=label,
            max=f"{BODY_MAX:,}",
            n=f"{len(text):,}",
        )
    return None


def validate_course(session: Session, data: CourseInput) -> dict[str, object]:
    """Return a message per invalid field; empty when ``data`` can be saved."""
    errors: dict[str, object] = {}
    problem = _title_error(data.title)
    if problem:
        errors["title"] = problem
    problem = _body_error(data.description_md, _l("课程介绍"))
    if problem:
        errors["description_md"] = problem
    unknown = unknown_industry_codes(session, data.industry_codes)
    if unknown:
        errors["industries"] = _l(
            "未知的行业代码：%(codes)s。", codes="、".join(unknown)
        )
    return errors


def validate_lesson(data: LessonInput) -> dict[str, object]:
    errors: dict[str, object] = {}
    problem = _title_error(data.title)
    if problem:
        errors["title"] = problem
    problem = _body_error(data.body_md, _l("课时正文"))
    if problem:
        errors["body_md"] = problem
    return errors


def _raise_first(errors: dict[str, object]) -> None:
    if errors:
        name, message = next(iter(errors.items()))
        raise ValidationError(message, field=name)


def create_course(session: Session, data: CourseInput, author: User) -> Course:
    """Create a course; raise ValidationError for the first invalid field."""
    _raise_first(validate_course(session, data))
    course = Course(author=author)
    _apply_course(session, course, data)
    session.add(course)
    session.flush()
    logger.info("Created course %s", course.id)
    return course


def update_course(session: Session, course: Course, data: CourseInput) -> None:
    """Change a course; its attachments are re-indexed with the new title."""
    _raise_first(validate_course(session, data))
    _apply_course(session, course, data)
    session.flush()
    outbox.enqueue(session, "attachment", [a.id for a in course.attachments])


def _apply_course(session: Session, course: Course, data: CourseInput) -> None:
    course.title = data.title.strip()
    course.description_md = data.description_md
    course.description_html = render_markdown(data.description_md)
    course.industries = industries_for_codes(session, data.industry_codes)
    course.updated_at = utcnow()


def add_lesson(session: Session, course: Course, data: LessonInput) -> Lesson:
    """Append a lesson at the end of ``course``."""
    _raise_first(validate_lesson(data))
    _lock_course(session, course)
    lesson = Lesson(course=course, position=len(course.lessons))
    _apply_lesson(lesson, data)
    session.add(lesson)
    course.updated_at = utcnow()
    session.flush()
    return lesson


def update_lesson(session: Session, lesson: Lesson, data: LessonInput) -> None:
    _raise_first(validate_lesson(data))
    _apply_lesson(lesson, data)
    # The course's search entry contains its lessons.
    lesson.course.updated_at = utcnow()
    session.flush()


def _apply_lesson(lesson: Lesson, data: LessonInput) -> None:
    lesson.title = data.title.strip()
    lesson.body_md = data.body_md
    lesson.body_html = render_markdown(data.body_md)
    lesson.updated_at = utcnow()


def delete_lesson(session: Session, lesson: Lesson) -> None:
    """Delete a lesson; its attachments stay with the course, its records go."""
    course = lesson.course
    course.lessons.remove(lesson)
    session.delete(lesson)
    _renumber(course)
    course.updated_at = utcnow()
    session.flush()


def move_lesson(session: Session, lesson: Lesson, offset: int) -> bool:
    """Move a lesson one place up (-1) or down (+1); return whether it moved."""
    course = lesson.course
    _lock_course(session, course)
    lessons = list(course.lessons)
    if lesson not in lessons:
        # A simultaneous request deleted the lesson.
        return False
    index = lessons.index(lesson)
    target = index + offset
    if offset not in (-1, 1) or not 0 <= target < len(lessons):
        return False
    lessons[index], lessons[target] = lessons[target], lessons[index]
    for position, item in enumerate(lessons):
        item.position = position
    course.updated_at = utcnow()
    session.flush()
    session.expire(course, ["lessons"])
    return True


def _lock_course(session: Session, course: Course) -> None:
    """Lock ``course`` and re-read its lessons before changing their positions.

    Simultaneous additions and moves in one course then run one after the
    other, so no two lessons get the same position.
    """
    session.refresh(course, with_for_update=True)
    session.expire(course, ["lessons"])


def _renumber(course: Course) -> None:
    """Give the lessons positions 0, 1, 2 ... in their current order."""
    for position, lesson in enumerate(course.lessons):
        lesson.position = position


def neighbours(lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
    """Return the lessons before and after ``lesson`` in its course."""
    lessons = list(lesson.course.lessons)
    index = lessons.index(lesson)
    previous = lessons[index - 1] if index > 0 else None
    following = lessons[index + 1] if index + 1 < len(lessons) else None
    return previous, following


def courses_query(industry: str | None = None):
    """Select courses, most recently changed first, optionally of one industry.

    A section code (门类) also finds courses of its divisions.
    """
    query = (
        select(Course)
        .options(selectinload(Course.industries))
        .order_by(Course.updated_at.desc(), Course.id.desc())
    )
    if industry:
        query = query.where(
            Course.industries.any(
                (Industry.code == industry) | (Industry.section_code == industry)
            )
        )
    return query


def attachments_of(session: Session, course_id: int) -> list[Attachment]:
    """Return a course's attachments without their extracted text, which may be long."""
    return list(
        session.scalars(
            select(Attachment)
            .options(defer(Attachment.text))
            .where(Attachment.course_id == course_id)
            .order_by(Attachment.id)
        )
    )


def course_counts(
    session: Session, course_ids: list[int]
) -> dict[int, tuple[int, int]]:
    """Return (lessons, attachments) per course id."""
    lessons = _lesson_counts(session, course_ids)
    attachments = dict(
        session.execute(
            select(Attachment.course_id, func.count(Attachment.id))
            .where(Attachment.course_id.in_(course_ids))
            .group_by(Attachment.course_id)
        ).all()
    )
    return {
        course_id: (lessons.get(course_id, 0), attachments.get(course_id, 0))
        for course_id in course_ids
    }


def delete_attachment(session: Session, attachment: Attachment) -> str:
    """Delete the record; return the stored name to remove after the commit."""
    stored_name = attachment.stored_name
    session.delete(attachment)
    session.flush()
    return stored_name


# -- learning records --------------------------------------------------------------


def mark_done(session: Session, user: User, lesson: Lesson) -> bool:
    """Record that ``user`` finished ``lesson``; return False if already recorded."""
    if session.get(LessonCompletion, (user.id, lesson.id)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(LessonCompletion(user_id=user.id, lesson_id=lesson.id))
    except IntegrityError:
        # The same person's simultaneous request recorded it.
        return False
    return True


def undo_done(session: Session, user: User, lesson: Lesson) -> bool:
    """Delete the record of ``user`` finishing ``lesson``; return whether it existed."""
    # A DELETE statement, because a simultaneous request may have removed the
    # record already, and session.delete() would then warn that no row was deleted.
    removed = session.execute(
        delete(LessonCompletion).where(
            LessonCompletion.user_id == user.id,
            LessonCompletion.lesson_id == lesson.id,
        )
    )
    return removed.rowcount > 0


def done_lesson_ids(session: Session, user_id: int, course_id: int) -> set[int]:
    rows = session.scalars(
        select(LessonCompletion.lesson_id)
        .join(Lesson, Lesson.id == LessonCompletion.lesson_id)
        .where(LessonCompletion.user_id == user_id, Lesson.course_id == course_id)
    )
    return set(rows)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.done >= self.total


def _lesson_counts(session: Session, course_ids=None) -> dict[int, int]:
    query = select(Lesson.course_id, func.count(Lesson.id)).group_by(Lesson.course_id)
    if course_ids is not None:
        query = query.where(Lesson.course_id.in_(course_ids))
    return dict(session.execute(query).all())


def _done_counts(session: Session, user_id: int) -> dict[int, int]:
    query = (
        select(Lesson.course_id, func.count(LessonCompletion.lesson_id))
        .join(Lesson, Lesson.id == LessonCompletion.lesson_id)
        .where(LessonCompletion.user_id == user_id)
        .group_by(Lesson.course_id)
    )
    return dict(session.execute(query).all())


def learning_progress(session: Session, user_id: int) -> list[tuple[Course, Progress]]:
    """Return the courses ``user_id`` started, with progress, by title."""
    done = _done_counts(session, user_id)
    if not done:
        return []
    totals = _lesson_counts(session, list(done))
    courses = session.scalars(
        select(Course).where(Course.id.in_(list(done))).order_by(Course.title)
    ).all()
    return [
        (course, Progress(done[course.id], totals.get(course.id, 0)))
        for course in courses
    ]


def course_progress(session: Session, user_id: int, course: Course) -> Progress:
    done = done_lesson_ids(session, user_id, course.id)
    return Progress(len(done), len(course.lessons))


def completed_courses(session: Session, user_id: int) -> list[Course]:
    """Return the courses in which ``user_id`` marked every lesson done, by title.

    A course without lessons is never complete.
    """
    done = _done_counts(session, user_id)
    if not done:
        return []
    totals = _lesson_counts(session, list(done))
    complete_ids = [
        course_id
        for course_id, count in done.items()
        if totals.get(course_id, 0) > 0 and count >= totals[course_id]
    ]
    if not complete_ids:
        return []
    return list(
        session.scalars(
            select(Course)
            .where(Course.id.in_(complete_ids))
            .order_by(Course.title, Course.id)
        )
    )


# -- completion report -------------------------------------------------------------


@dataclass(frozen=True)
class CompletionRow:
    """People of one department who started and completed one course."""

    department: str
    course_id: int
    course_title: str
    headcount: int
    started: int
    completed: int


def completion_report(
    session: Session, course_id: int | None = None
) -> list[CompletionRow]:
    """Count, per department and course, the people who started and completed it.

    Started means at least one lesson done; completed means every lesson done.
    Active accounts count towards the headcount; records of inactive accounts
    count too, so a report does not change when someone leaves.
    """
    course_query = select(Course).order_by(Course.title, Course.id)
    if course_id is not None:
        course_query = course_query.where(Course.id == course_id)
    courses = session.scalars(course_query).all()
    if not courses:
        return []
    ids = [course.id for course in courses]
    totals = _lesson_counts(session, ids)
    departments = session.scalars(select(Department).order_by(Department.name)).all()
    headcounts = dict(
        session.execute(
            select(User.department_id, func.count(User.id))
            .where(User.active.is_(True))
            .group_by(User.department_id)
        ).all()
    )
    per_person = session.execute(
        select(
            User.department_id,
            LessonCompletion.user_id,
            Lesson.course_id,
            func.count(LessonCompletion.lesson_id),
        )
        .join(Lesson, Lesson.id == LessonCompletion.lesson_id)
        .join(User, User.id == LessonCompletion.user_id)
        .where(Lesson.course_id.in_(ids))
        .group_by(User.department_id, LessonCompletion.user_id, Lesson.course_id)
    ).all()
    started: dict[tuple[int, int], int] = {}
    completed: dict[tuple[int, int], int] = {}
    for department_id, _user_id, course, count in per_person:
        key = (department_id, course)
        started[key] = started.get(key, 0) + 1
        if totals.get(course, 0) and count >= totals[course]:
            completed[key] = completed.get(key, 0) + 1
    return [
        CompletionRow(
            department=department.name,
            course_id=course.id,
            course_title=course.title,
            headcount=headcounts.get(department.id, 0),
            started=started.get((department.id, course.id), 0),
            completed=completed.get((department.id, course.id), 0),
        )
        for department in departments
        for course in courses
    ]
