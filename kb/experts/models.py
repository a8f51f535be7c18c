"""Expertise profiles: declared industries and skills, and colleagues' endorsements.

What a person declares only describes them; ranking uses the evidence the
system derives (see kb.experts.evidence).
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.auth.models import User
from kb.extensions import db
from kb.taxonomy.models import Industry
from kb.timeutil import utcnow

# Declared levels, lowest first.
LEVELS = (1, 2, 3)


class Skill(db.Model):
    """A banking skill such as 供应链金融 or 跨境结算."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Normalised with kb.taxonomy.tags.normalize_tag before storing.
    name: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Skill {self.id} {self.name!r}>"


class ExpertProfile(db.Model):
    """A person's own words about their expertise."""

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    headline: Mapped[str] = mapped_column(String(200), default="")
    bio_md: Mapped[str] = mapped_column(Text, default="")
    bio_html: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class ExpertiseIndustry(db.Model):
    """An industry division a person declares expertise in, with a level."""

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    industry_code: Mapped[str] = mapped_column(
        ForeignKey("industry.code"), primary_key=True, index=True
    )
    level: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    industry: Mapped[Industry] = relationship()

    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 3", name="ck_expertise_industry_level"),
    )


class ExpertiseSkill(db.Model):
    """A skill a person declares, with a level."""

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[int] = mapped_column(
        ForeignKey("skill.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    level: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    skill: Mapped[Skill] = relationship()

    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 3", name="ck_expertise_skill_level"),
    )


class Endorsement(db.Model):
    """A colleague vouches for a person's skill or industry: one each, at most.

    Exactly one of ``skill_id`` and ``industry_code`` is set.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    endorser_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    skill_id: Mapped[int | None] = mapped_column(
        ForeignKey("skill.id", ondelete="CASCADE")
    )
    industry_code: Mapped[str | None] = mapped_column(ForeignKey("industry.code"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    endorser: Mapped[User] = relationship(foreign_keys=[endorser_id])
    skill: Mapped[Skill | None] = relationship()

    __table_args__ = (
        UniqueConstraint(
            "user_id", "endorser_id", "skill_id", name="uq_endorsement_skill"
        ),
        UniqueConstraint(
            "user_id", "endorser_id", "industry_code", name="uq_endorsement_industry"
        ),
        CheckConstraint(
            "(skill_id IS NULL) <> (industry_code IS NULL)",
            name="ck_endorsement_one_subject",
        ),
        CheckConstraint("user_id <> endorser_id", name="ck_endorsement_not_self"),
    )
