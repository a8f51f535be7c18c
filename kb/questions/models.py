"""Questions to experts, their answers, and who was asked to answer."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.auth.models import User
from kb.experts.models import Skill
from kb.extensions import db
from kb.taxonomy.models import Industry
from kb.timeutil import utcnow

# open: waiting for an accepted answer; answered: the asker accepted one;
# closed: the asker or an admin closed it without accepting.
QUESTION_STATUSES = ("open", "answered", "closed")

question_industry = Table(
    "question_industry",
    db.metadata,
    Column(
        "question_id", ForeignKey("question.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("industry_code", ForeignKey("industry.code"), primary_key=True),
)

question_skill = Table(
    "question_skill",
    db.metadata,
    Column(
        "question_id", ForeignKey("question.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("skill_id", ForeignKey("skill.id", ondelete="CASCADE"), primary_key=True),
)


class Question(db.Model):
    """A question anyone may ask; every member of staff may read it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    asker_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    accepted_answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("answer.id", use_alter=True, ondelete="SET NULL")
    )
    accepted_at: Mapped[datetime | None]
    # Answers that are not hidden.
    answer_count: Mapped[int] = mapped_column(default=0)
    view_count: Mapped[int] = mapped_column(default=0)
    # How many times the question went to further experts for lack of answers.
    escalation_count: Mapped[int] = mapped_column(default=0)
    last_routed_at: Mapped[datetime] = mapped_column(default=utcnow)
    hidden: Mapped[bool] = mapped_column(default=False)
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    hidden_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)

    asker: Mapped[User] = relationship(foreign_keys=[asker_id])
    hidden_by: Mapped[User | None] = relationship(foreign_keys=[hidden_by_id])
    industries: Mapped[list[Industry]] = relationship(
        secondary=question_industry, order_by=Industry.code
    )
    skills: Mapped[list[Skill]] = relationship(
        secondary=question_skill, order_by=Skill.name
    )
    answers: Mapped[list["Answer"]] = relationship(
        back_populates="question",
        order_by="Answer.id",
        cascade="all, delete-orphan",
        foreign_keys="Answer.question_id",
    )
    accepted_answer: Mapped["Answer | None"] = relationship(
        foreign_keys=[accepted_answer_id], post_update=True
    )
    routings: Mapped[list["QuestionRouting"]] = relationship(
        back_populates="question",
        order_by="QuestionRouting.id",
        cascade="all, delete-orphan",
    )

    __table_args__ = (Index("ix_question_created_id", "created_at", "id"),)

    def __repr__(self) -> str:
        return f"<Question {self.id} {self.status} {self.title!r}>"


class Answer(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    useful_count: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool] = mapped_column(default=False)
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    hidden_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    question: Mapped[Question] = relationship(
        back_populates="answers", foreign_keys=[question_id]
    )
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    hidden_by: Mapped[User | None] = relationship(foreign_keys=[hidden_by_id])


class QuestionRouting(db.Model):
    """A person the question was sent to, in which round and why.

    Round 0 is the first choice of experts; each escalation adds a round with
    the next-best experts. Someone asked once is never asked again.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(default=0)
    score: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    question: Mapped[Question] = relationship(back_populates="routings")
    user: Mapped[User] = relationship()

    __table_args__ = (
        Index("uq_question_routing_user", "question_id", "user_id", unique=True),
    )
