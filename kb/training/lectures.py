"""Lectures: scheduling, changes, cancellation and sign-ups."""

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from kb.auth.models import User
from kb.errors import Conflict
from kb.timeutil import to_utc_naive, utcnow
from kb.training.models import Course, Lecture, LectureSignup

logger = logging.getLogger(__name__)

TITLE_MAX = 200
PLACE_MAX = 200
URL_MAX = 500
SPEAKER_NAME_MAX = 100
DESCRIPTION_MAX = 20_000
CAPACITY_MAX = 100_000
# Longer lectures are typing mistakes, such as a wrong month.
DURATION_MAX = timedelta(days=7)
EARLIEST_YEAR = 2000
LATEST_YEAR = 2100
# The value of an <input type="datetime-local">, with or without seconds.
LOCAL_INPUT_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
PAST_LIMIT = 50


@dataclass
class LectureInput:
    """A lecture as typed into the form; times are Asia/Shanghai local time."""

    title: str
    starts_at: str
    ends_at: str
    course_id: int | None = None
    description: str = ""
    place: str = ""
    online_url: str = ""
    speaker_username: str = ""
    speaker_name: str = ""
    capacity: str = ""


@dataclass
class CheckedLecture:
    title: str
    starts_at: datetime
    ends_at: datetime
    course: Course | None
    description: str
    place: str
    online_url: str
    speaker: User | None
    speaker_name: str
    capacity: int | None


def parse_local(raw: str) -> datetime | None:
    """Read a datetime-local value as Asia/Shanghai time; return naive UTC or None."""
    text = unicodedata.normalize("NFKC", raw or "").strip().replace(" ", "T")
    for pattern in LOCAL_INPUT_FORMATS:
        try:
            value = datetime.strptime(text, pattern)
        except ValueError:
            continue
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            return None
        return to_utc_naive(value)
    return None


def is_https_url(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and bool(parts.hostname)
        and not any(
            char.isspace() or ord(char) < 32 or char in "\"'<>`" for char in url
        )
    )


def check_lecture(
    session: Session, data: LectureInput, lecture: Lecture | None = None
) -> tuple[CheckedLecture | None, dict[str, object]]:
    """Validate ``data``; return the checked values or a message per field.

    ``lecture`` is the lecture being edited, None for a new one: a new
    lecture may not start in the past, and an edit may not cut the places
    below the people already signed up.
    """
    errors: dict[str, object] = {}
    title = data.title.strip()
    if not title:
        errors["title"] = _l("标题不能为空。")
    elif len(title) > TITLE_MAX:
        errors["title"] = _l("标题最长 %(max)s 个字符。", max=TITLE_MAX)
    starts_at, ends_at = _check_times(data, errors)

    course = None
    if data.course_id is not None:
        course = session.get(Course, data.course_id)
        if course is None:
            errors["course_id"] = _l("所选课程不存在。")

    place = data.place.strip()
    if len(place) > PLACE_MAX:
        errors["place"] = _l("地点最长 %(max)s 个字符。", max=PLACE_MAX)
    url = data.online_url.strip()
    if len(url) > URL_MAX:
        errors["online_url"] = _l("线上链接最长 %(max)s 个字符。", max=URL_MAX)
    elif url and not is_https_url(url):
        errors["online_url"] = _l(
            "线上链接“%(url)s”无效：需以 https:// 开头，后跟主机名，"
            "且不含空格、引号或尖括号。",
            url=url[:80],
        )
    if not place and not url:
        errors["place"] = _l("请填写地点或线上链接，至少一项。")

    speaker, speaker_name = _check_speaker(session, data, errors)
    description = (data.description or "").replace("\r\n", "\n").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = _l(
            "简介最长 %(max)s 个字符。", max=f"{DESCRIPTION_MAX:,}"
        )
    capacity = _check_capacity(data.capacity, errors)
    if lecture is None and starts_at is not None and starts_at < utcnow():
        errors.setdefault("starts_at", _l("开始时间已经过去，请检查日期和年份。"))
    if lecture is not None and capacity is not None:
        # Lock the lecture as sign_up does, so no one signs up between this
        # count and the caller's commit.
        session.execute(
            select(Lecture.id).where(Lecture.id == lecture.id).with_for_update()
        )
        taken = signup_count(session, lecture.id)
        if capacity < taken:
            errors.setdefault(
                "capacity",
                _l("已有 %(n)s 人报名，名额不能少于 %(n)s。", n=taken),
            )
    if errors:
        return None, errors

    checked = CheckedLecture(
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        course=course,
        description=description,
        place=place,
        online_url=url,
        speaker=speaker,
        speaker_name=speaker_name,
        capacity=capacity,
    )
    return checked, {}


def _check_times(
    data: LectureInput, errors: dict[str, object]
) -> tuple[datetime | None, datetime | None]:
    starts_at = parse_local(data.starts_at)
    if starts_at is None:
        errors["starts_at"] = _l(
            "开始时间 %(value)s 无效，请选择日期和时间，例如 2026-12-04T14:30。",
            value=repr(data.starts_at.strip()[:40]),
        )
    ends_at = parse_local(data.ends_at)
    if ends_at is None:
        errors["ends_at"] = _l(
            "结束时间 %(value)s 无效，请选择日期和时间，例如 2026-12-04T16:00。",
            value=repr(data.ends_at.strip()[:40]),
        )
    elif starts_at is not None:
        if ends_at <= starts_at:
            errors["ends_at"] = _l("结束时间必须晚于开始时间。")
        elif ends_at - starts_at > DURATION_MAX:
            errors["ends_at"] = _l("一场讲座最长 7 天，请检查结束时间。")
    return starts_at, ends_at


def _check_speaker(
    session: Session, data: LectureInput, errors: dict[str, object]
) -> tuple[User | None, str]:
    speaker = None
    username = data.speaker_username.strip()
    if username:
        speaker = session.scalar(select(User).where(User.username == username))
        if speaker is None:
            errors["speaker_username"] = _l(
                "用户名 %(name)s 不存在；没有账号的主讲人请填写在“主讲人姓名”中。",
                name=repr(username[:64]),
            )
    speaker_name = data.speaker_name.strip()
    if len(speaker_name) > SPEAKER_NAME_MAX:
        errors["speaker_name"] = _l(
            "主讲人姓名最长 %(max)s 个字符。", max=SPEAKER_NAME_MAX
        )
    return speaker, speaker_name


def _check_capacity(raw: str, errors: dict[str, object]) -> int | None:
    """Read the capacity field; empty means no limit."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return None
    # The length check keeps int() away from huge digit strings.
    if text.isascii() and text.isdigit() and len(text) <= 9:
        if 1 <= int(text) <= CAPACITY_MAX:
            return int(text)
    errors["capacity"] = _l(
        "名额 %(value)s 无效：请填写 1 到 %(max)s 的整数，不限名额请留空。",
        value=repr(text[:20]),
        max=f"{CAPACITY_MAX:,}",
    )
    return None


def _apply(lecture: Lecture, checked: CheckedLecture) -> None:
    lecture.title = checked.title
    lecture.starts_at = checked.starts_at
    lecture.ends_at = checked.ends_at
    lecture.course = checked.course
    lecture.description = checked.description
    lecture.place = checked.place
    lecture.online_url = checked.online_url
    lecture.speaker = checked.speaker
    lecture.speaker_name = checked.speaker_name
    lecture.capacity = checked.capacity
    lecture.updated_at = utcnow()


def create_lecture(
    session: Session, checked: CheckedLecture, organiser: User
) -> Lecture:
    lecture = Lecture(created_by=organiser, sequence=0)
    _apply(lecture, checked)
    session.add(lecture)
    session.flush()
    logger.info("Created lecture %s", lecture.id)
    return lecture


def update_lecture(session: Session, lecture: Lecture, checked: CheckedLecture) -> None:
    """Change a lecture and raise its SEQUENCE, so calendars replace their copy."""
    _apply(lecture, checked)
    session.flush()
    _raise_sequence(session, lecture)


def _raise_sequence(session: Session, lecture: Lecture) -> None:
    """Add one to the SEQUENCE in one UPDATE, so simultaneous changes add up."""
    session.execute(
        update(Lecture)
        .where(Lecture.id == lecture.id)
        .values(sequence=func.coalesce(Lecture.sequence, 0) + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(lecture, ["sequence"])


def cancel_lecture(session: Session, lecture: Lecture) -> bool:
    """Cancel a lecture; return False if it already was."""
    # One UPDATE that checks and sets the flag, so of two simultaneous
    # cancellations only one succeeds and raises the SEQUENCE.
    cancelled = session.execute(
        update(Lecture)
        .where(Lecture.id == lecture.id, Lecture.cancelled.is_(False))
        .values(
            cancelled=True,
            sequence=func.coalesce(Lecture.sequence, 0) + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(lecture, ["cancelled", "sequence", "updated_at"])
    if cancelled.rowcount == 0:
        return False
    logger.info("Cancelled lecture %s", lecture.id)
    return True


def can_manage(user, lecture: Lecture) -> bool:
    """Tell whether ``user`` organises ``lecture`` or is an admin."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_admin:
        return True
    return user.role == "expert" and lecture.created_by_id == user.id


def signup_count(session: Session, lecture_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(LectureSignup)
            .where(LectureSignup.lecture_id == lecture_id)
        )
        or 0
    )


def is_signed_up(session: Session, user_id: int, lecture_id: int) -> bool:
    return session.get(LectureSignup, (lecture_id, user_id)) is not None


def _check_open(lecture: Lecture, now: datetime) -> None:
    if lecture.cancelled:
        raise Conflict(_l("讲座“%(title)s”已取消。", title=lecture.title))
    if lecture.starts_at <= now:
        raise Conflict(
            _l(
                "讲座“%(title)s”已开始或已结束，不能再报名或取消报名。",
                title=lecture.title,
            )
        )


def sign_up(session: Session, user: User, lecture: Lecture) -> bool:
    """Sign ``user`` up; return False if already signed up; raise Conflict if closed.

    A full lecture raises Conflict. The lecture row is locked (SELECT ... FOR
    UPDATE on PostgreSQL), and requests that write take SQLite's write lock
    before their first read, so two sign-ups cannot both take the last seat.
    """
    session.refresh(lecture, with_for_update=True)
    _check_open(lecture, utcnow())
    if is_signed_up(session, user.id, lecture.id):
        return False
    if lecture.capacity is not None:
        if signup_count(session, lecture.id) >= lecture.capacity:
            raise Conflict(
                _l(
                    "讲座“%(title)s”已满（%(n)s 个名额）。",
                    title=lecture.title,
                    n=lecture.capacity,
                )
            )
    session.add(LectureSignup(lecture_id=lecture.id, user_id=user.id))
    session.flush()
    return True


def withdraw(session: Session, user: User, lecture: Lecture) -> bool:
    """Cancel ``user``'s sign-up; return False if there was none."""
    _check_open(lecture, utcnow())
    # A DELETE statement, because a simultaneous request may have removed the
    # sign-up already, and session.delete() would then warn that no row was deleted.
    removed = session.execute(
        delete(LectureSignup).where(
            LectureSignup.lecture_id == lecture.id,
            LectureSignup.user_id == user.id,
        )
    )
    return removed.rowcount > 0


def upcoming_and_past(session: Session) -> tuple[list[Lecture], list[Lecture]]:
    """Return lectures not yet ended (soonest first) and the latest ended ones."""
    now = utcnow()
    upcoming = session.scalars(
        select(Lecture)
        .where(Lecture.ends_at >= now)
        .order_by(Lecture.starts_at, Lecture.id)
    ).all()
    past = session.scalars(
        select(Lecture)
        .where(Lecture.ends_at < now)
        .order_by(Lecture.starts_at.desc(), Lecture.id.desc())
        .limit(PAST_LIMIT)
    ).all()
    return list(upcoming), list(past)
