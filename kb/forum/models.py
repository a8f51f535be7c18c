"""Forum posts (market signals and risk signals), replies and their histories."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.auth.models import Department, User
from kb.extensions import db
from kb.taxonomy.models import Industry, Tag
from kb.timeutil import utcnow

SIGNAL_TYPES = ("market", "competitor", "policy", "lead", "risk")
VISIBILITIES = ("all", "department", "departments")
SEVERITIES = ("low", "medium", "high")
RISK_STATUSES = ("open", "handling", "closed")

post_industry = Table(
    "post_industry",
    db.metadata,
    Column("post_id", ForeignKey("post.id", ondelete="CASCADE"), primary_key=True),
    Column("industry_code", ForeignKey("industry.code"), primary_key=True),
)

post_tag = Table(
    "post_tag",
    db.metadata,
    Column("post_id", ForeignKey("post.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)

# The departments that may read a post whose visibility is not "all". For
# "department" it contains the author's department. Departments that handle
# risk signals read every risk signal without being listed here.
post_audience = Table(
    "post_audience",
    db.metadata,
    Column("post_id", ForeignKey("post.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id"), primary_key=True),
)


class Post(db.Model):
    """A signal shared in the forum.

    An anonymous report has no author, no author department and no revision
    editor: nothing in the database links it to the person who filed it. Its
    reporter proves ownership with a receipt code, of which only a digest is kept.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    signal_type: Mapped[str] = mapped_column(String(20), index=True)
    visibility: Mapped[str] = mapped_column(String(20), default="all")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    author_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id"), index=True
    )
    anonymous: Mapped[bool] = mapped_column(default=False)
    receipt_digest: Mapped[str | None] = mapped_column(String(64), unique=True)

    severity: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str | None] = mapped_column(String(10))
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    closed_at: Mapped[datetime | None]

    hidden: Mapped[bool] = mapped_column(default=False)
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    hidden_at: Mapped[datetime | None]

    view_count: Mapped[int] = mapped_column(default=0)
    useful_count: Mapped[int] = mapped_column(default=0)
    # Replies that are not hidden; "unanswered" means zero.
    reply_count: Mapped[int] = mapped_column(default=0)
    revision_count: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    author_department: Mapped[Department | None] = relationship(
        foreign_keys=[author_department_id]
    )
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    hidden_by: Mapped[User | None] = relationship(foreign_keys=[hidden_by_id])
    industries: Mapped[list[Industry]] = relationship(
        secondary=post_industry, order_by=Industry.code
    )
    tags: Mapped[list[Tag]] = relationship(secondary=post_tag, order_by=Tag.name)
    audience: Mapped[list[Department]] = relationship(
        secondary=post_audience, order_by=Department.id
    )
    replies: Mapped[list["Reply"]] = relationship(
        back_populates="post",
        order_by="Reply.id",
        cascade="all, delete-orphan",
    )
    revisions: Mapped[list["PostRevision"]] = relationship(
        back_populates="post",
        order_by="PostRevision.number.desc()",
        cascade="all, delete-orphan",
    )
    status_changes: Mapped[list["RiskStatusChange"]] = relationship(
        back_populates="post",
        order_by="RiskStatusChange.id",
        cascade="all, delete-orphan",
    )

    __table_args__ = (Index("ix_post_created_id", "created_at", "id"),)

    @property
    def is_risk(self) -> bool:
        return self.signal_type == "risk"

    def __repr__(self) -> str:
        return f"<Post {self.id} {self.signal_type} {self.title!r}>"


class PostRevision(db.Model):
    """One saved version of a post; the newest equals the current content."""

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("post.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    # The audience when this version was saved ("1,4" for department ids): a
    # version written for one department stays hidden from the others after
    # the post is opened to more readers.
    visibility: Mapped[str] = mapped_column(String(20), default="all")
    audience_ids: Mapped[str] = mapped_column(Text, default="")
    # None for the first version of an anonymous report.
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    post: Mapped[Post] = relationship(back_populates="revisions")
    edited_by: Mapped[User | None] = relationship()


class Reply(db.Model):
    """A reply under a post, optionally quoting an earlier reply.

    ``from_reporter`` marks a reply written with an anonymous report's receipt
    code; such a reply has no author.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("post.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    from_reporter: Mapped[bool] = mapped_column(default=False)
    quote_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("reply.id", ondelete="SET NULL")
    )
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    useful_count: Mapped[int] = mapped_column(default=0)
    revision_count: Mapped[int] = mapped_column(default=1)
    hidden: Mapped[bool] = mapped_column(default=False)
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    hidden_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    post: Mapped[Post] = relationship(back_populates="replies")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    hidden_by: Mapped[User | None] = relationship(foreign_keys=[hidden_by_id])
    quote_of: Mapped["Reply | None"] = relationship(remote_side=[id])
    revisions: Mapped[list["ReplyRevision"]] = relationship(
        back_populates="reply",
        order_by="ReplyRevision.number.desc()",
        cascade="all, delete-orphan",
    )


class ReplyRevision(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int] = mapped_column(
        ForeignKey("reply.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    body_md: Mapped[str] = mapped_column(Text)
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    reply: Mapped[Reply] = relationship(back_populates="revisions")
    edited_by: Mapped[User | None] = relationship()


class UsefulMark(db.Model):
    """One person's "useful" on a post, reply, brief or answer (exactly one of them)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("post.id", ondelete="CASCADE")
    )
    reply_id: Mapped[int | None] = mapped_column(
        ForeignKey("reply.id", ondelete="CASCADE")
    )
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("article.id", ondelete="CASCADE")
    )
    answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("answer.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("user_id", "post_id", name="uq_useful_mark_user_post"),
        UniqueConstraint("user_id", "reply_id", name="uq_useful_mark_user_reply"),
        UniqueConstraint("user_id", "article_id", name="uq_useful_mark_user_article"),
        UniqueConstraint("user_id", "answer_id", name="uq_useful_mark_user_answer"),
    )


class PostView(db.Model):
    """A reader who has opened a post; ``Post.view_count`` counts distinct readers."""

    post_id: Mapped[int] = mapped_column(
        ForeignKey("post.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskStatusChange(db.Model):
    """One step in a risk signal's handling, kept as its history."""

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("post.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(10))
    to_status: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    post: Mapped[Post] = relationship(back_populates="status_changes")
    changed_by: Mapped[User | None] = relationship()


class AnonymousReportSlot(db.Model):
    """A time bucket's count of anonymous reports, for a bank-wide abuse limit.

    Only the bucket and the count are stored, never who filed.
    """

    bucket: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
