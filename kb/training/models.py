"""Courses with ordered lessons and attachments, lectures, learning records."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.auth.models import User
from kb.extensions import db
from kb.taxonomy.models import Industry
from kb.timeutil import utcnow

# Document kinds an attachment may be, decided from the file's content.
ATTACHMENT_KINDS = ("pdf", "docx", "pptx", "xlsx")

course_industry = Table(
    "course_industry",
    db.metadata,
    Column("course_id", ForeignKey("course.id", ondelete="CASCADE"), primary_key=True),
    Column("industry_code", ForeignKey("industry.code"), primary_key=True),
)


class Course(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description_md: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship()
    industries: Mapped[list[Industry]] = relationship(
        secondary=course_industry, order_by=Industry.code
    )
    lessons: Mapped[list["Lesson"]] = relationship(
        back_populates="course",
        order_by="(Lesson.position, Lesson.id)",
        cascade="all, delete-orphan",
    )
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="course",
        order_by="Attachment.id",
        cascade="all, delete-orphan",
    )
    lectures: Mapped[list["Lecture"]] = relationship(
        back_populates="course", order_by="Lecture.starts_at"
    )

    def __repr__(self) -> str:
        return f"<Course {self.id} {self.title!r}>"


class Lesson(db.Model):
    """One lesson of a course; lessons are read in ``position`` order."""

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship(back_populates="lessons")
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="lesson", order_by="Attachment.id"
    )


class Attachment(db.Model):
    """An uploaded document, stored in the instance folder under ``stored_name``.

    ``original_name`` is the name the uploader's file had, Chinese included;
    downloads offer it again. ``text`` is what was extracted for search.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), index=True
    )
    lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lesson.id", ondelete="SET NULL"), index=True
    )
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    # Deferred: up to 2,000,000 characters that only search indexing reads.
    text: Mapped[str] = mapped_column(Text, default="", deferred=True)
    # Why no text could be extracted, if so; the file is kept and downloadable.
    extract_error: Mapped[str] = mapped_column(String(500), default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship(back_populates="attachments")
    lesson: Mapped[Lesson | None] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User | None] = relationship()


class Lecture(db.Model):
    """A scheduled training session, in a room, online or both."""

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("course.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    speaker_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Shown when the speaker has no account, or in addition to it.
    speaker_name: Mapped[str] = mapped_column(String(100), default="")
    # None: no limit on sign-ups.
    capacity: Mapped[int | None]
    cancelled: Mapped[bool] = mapped_column(default=False)
    # Raised on every change, so calendars replace the event they hold (iCalendar
    # SEQUENCE).
    sequence: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course | None] = relationship(back_populates="lectures")
    speaker: Mapped[User | None] = relationship(foreign_keys=[speaker_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    signups: Mapped[list["LectureSignup"]] = relationship(
        back_populates="lecture",
        order_by="LectureSignup.created_at",
        cascade="all, delete-orphan",
    )


class LectureSignup(db.Model):
    lecture_id: Mapped[int] = mapped_column(
        ForeignKey("lecture.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lecture: Mapped[Lecture] = relationship(back_populates="signups")
    user: Mapped[User] = relationship()


class LessonCompletion(db.Model):
    """A person marked a lesson done; a course is complete when all its lessons are."""

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_lesson_completion_user", "user_id", "completed_at"),)
