"""Expertise profiles, endorsements and a person's recent contributions.

Services take a session and never commit; the view commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from kb.articles.models import Article
from kb.articles.rendering import render_markdown
from kb.auth.models import User
from kb.dbutil import get_or_create
from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.experts.models import (
    LEVELS,
    Endorsement,
    ExpertiseIndustry,
    ExpertiseSkill,
    ExpertProfile,
    Skill,
)
from kb.forum.access import visible_posts
from kb.forum.models import Post
from kb.questions.models import Answer, Question, question_skill
from kb.taxonomy.models import Industry
from kb.taxonomy.tags import MAX_TAG_LENGTH, normalize_tag, parse_tags, validate_tag
from kb.timeutil import utcnow

logger = logging.getLogger(__name__)

HEADLINE_MAX = 200
BIO_MAX = 20_000
MAX_SKILLS = 20
MAX_INDUSTRIES = 20


@dataclass(frozen=True)
class Contribution:
    """A brief, a forum post or an accepted answer, for lists of recent work."""

    kind: str  # "brief", "post" or "answer"
    record_id: int  # the brief, post or question id
    title: str
    when: datetime


def get_person(session: Session, user_id: int) -> User:
    """Return the active user ``user_id``; raise NotFound otherwise."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(_("找不到这位同事。"))
    return user


def get_profile(session: Session, user: User) -> ExpertProfile | None:
    return session.get(ExpertProfile, user.id)


def declared_industries(session: Session, user_id: int) -> list[ExpertiseIndustry]:
    return list(
        session.scalars(
            select(ExpertiseIndustry)
            .options(joinedload(ExpertiseIndustry.industry))
            .where(ExpertiseIndustry.user_id == user_id)
            .order_by(ExpertiseIndustry.level.desc(), ExpertiseIndustry.industry_code)
        )
    )


def declared_skills(session: Session, user_id: int) -> list[ExpertiseSkill]:
    return list(
        session.scalars(
            select(ExpertiseSkill)
            .options(joinedload(ExpertiseSkill.skill))
            .join(Skill, Skill.id == ExpertiseSkill.skill_id)
            .where(ExpertiseSkill.user_id == user_id)
            .order_by(ExpertiseSkill.level.desc(), Skill.name)
        )
    )


def all_skills(session: Session) -> list[Skill]:
    """Return the skills in use by name, for pickers and datalists.

    A skill is in use while an active person declares it or a question names
    it, so names that everybody dropped stop being suggested.
    """
    declared = exists().where(
        ExpertiseSkill.skill_id == Skill.id,
        ExpertiseSkill.user_id == User.id,
        User.active.is_(True),
    )
    asked = exists().where(question_skill.c.skill_id == Skill.id)
    return list(
        session.scalars(select(Skill).where(or_(declared, asked)).order_by(Skill.name))
    )


def _skill_name_problem(raw: str, normalized: str) -> str | None:
    """Return why ``normalized`` cannot be a skill name, or None."""
    if normalized and parse_tags(raw) != [normalized]:
        return _(
            "技能“%(name)s”包含逗号、分号或顿号，每行只填一项技能。",
            name=raw.strip()[:MAX_TAG_LENGTH],
        )
    if normalized and not any(char.isalnum() for char in normalized):
        return _("技能“%(name)s”只有标点或符号，请填写技能名称。", name=normalized)
    if len(normalized) > MAX_TAG_LENGTH:
        return _(
            "技能“%(name)s…”过长：共 %(n)s 个字符，最多 %(max)s 个。",
            name=normalized[:20],
            n=len(normalized),
            max=MAX_TAG_LENGTH,
        )
    problem = validate_tag(normalized)
    if problem is not None:
        return _("技能名称无效：%(problem)s", problem=problem)
    return None


def skill_by_name(session: Session, name: str) -> Skill | None:
    return session.scalar(select(Skill).where(Skill.name == normalize_tag(name)))


def _level(raw) -> int | None:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if value in LEVELS else None


def validate_profile(
    session: Session, headline: str, bio_md: str, industries, skills
) -> dict[str, str]:
    """Return error messages by field name ("headline", "bio_md", "industries",
    "skills"); empty when the profile may be saved.
    """
    errors: dict[str, str] = {}
    if len(headline.strip()) > HEADLINE_MAX:
        errors["headline"] = _(
            "一句话介绍最多 %(max)s 个字符，当前 %(n)s 个。",
            max=HEADLINE_MAX,
            n=len(headline.strip()),
        )
    if len(bio_md) > BIO_MAX:
        errors["bio_md"] = _(
            "个人简介最多 %(max)s 个字符，当前 %(n)s 个。", max=BIO_MAX, n=len(bio_md)
        )

    if len(industries) > MAX_INDUSTRIES:
        errors["industries"] = _(
            "最多声明 %(max)s 个行业，当前 %(n)s 个。",
            max=MAX_INDUSTRIES,
            n=len(industries),
        )
    for code, level in industries:
        code = (code or "").strip()
        row = session.get(Industry, code) if code else None
        if row is None:
            errors["industries"] = _("未知的行业代码：%(code)s。", code=code[:10])
            break
        if row.level != "division":
            errors["industries"] = _(
                "请选择行业大类（如 36 汽车制造业），不能只选门类 %(code)s。",
                code=code,
            )
            break
        if _level(level) is None:
            errors["industries"] = _(
                "行业 %(label)s 的熟悉程度无效，请选择 1 了解、2 熟悉或 3 精通。",
                label=row.label,
            )
            break

    if len(skills) > MAX_SKILLS:
        errors["skills"] = _(
            "最多声明 %(max)s 项技能，当前 %(n)s 项。", max=MAX_SKILLS, n=len(skills)
        )
    for name, level in skills:
        normalized = normalize_tag(name or "")
        problem = _skill_name_problem(name or "", normalized)
        if problem is not None:
            errors["skills"] = problem
            break
        if _level(level) is None:
            errors["skills"] = _(
                "技能 %(name)s 的熟悉程度无效，请选择 1 了解、2 熟悉或 3 精通。",
                name=normalized,
            )
            break
    return errors


def set_profile(
    session: Session,
    user: User,
    headline: str,
    bio_md: str,
    industries=(),
    skills=(),
) -> ExpertProfile:
    """Replace a person's headline, bio and declared industries and skills.

    ``industries`` contains (division code, level) pairs and ``skills`` (name,
    level) pairs; a repeated code or name keeps its first level. Skills are
    created on first use. Raises ValidationError naming the first bad field.
    """
    industries = list(industries)
    skills = list(skills)
    bio_md = (bio_md or "").replace("\r\n", "\n").replace("\r", "\n")
    headline = (headline or "").strip()
    errors = validate_profile(session, headline, bio_md, industries, skills)
    if errors:
        name, message = next(iter(errors.items()))
        raise ValidationError(message, field=name)

    # Lock the person's row first, because the same person saving from two
    # tabs would otherwise insert the same profile and industry rows twice.
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    profile = session.get(ExpertProfile, user.id)
    if profile is None:
        profile = ExpertProfile(user_id=user.id)
        session.add(profile)
    profile.headline = headline
    profile.bio_md = bio_md
    profile.bio_html = render_markdown(bio_md) if bio_md.strip() else ""
    profile.updated_at = utcnow()

    requested_industries: dict[str, int] = {}
    for code, level in industries:
        requested_industries.setdefault(code.strip(), _level(level))
    current = {row.industry_code: row for row in declared_industries(session, user.id)}
    for code, row in current.items():
        if code not in requested_industries:
            session.delete(row)
    for code, level in requested_industries.items():
        if code in current:
            current[code].level = level
        else:
            session.add(
                ExpertiseIndustry(user_id=user.id, industry_code=code, level=level)
            )

    requested_skills: dict[int, int] = {}
    for name, level in skills:
        skill = _skill_for_name(session, normalize_tag(name))
        requested_skills.setdefault(skill.id, _level(level))
    current_skills = {row.skill_id: row for row in declared_skills(session, user.id)}
    for skill_id, row in current_skills.items():
        if skill_id not in requested_skills:
            session.delete(row)
    for skill_id, level in requested_skills.items():
        if skill_id in current_skills:
            current_skills[skill_id].level = level
        else:
            session.add(ExpertiseSkill(user_id=user.id, skill_id=skill_id, level=level))
    session.flush()
    logger.info(
        "Saved expertise profile of user %s: %s industries, %s skills",
        user.id,
        len(requested_industries),
        len(requested_skills),
    )
    return profile


def _skill_for_name(session: Session, name: str) -> Skill:
    """Return the skill called ``name`` (already normalized), creating it if new.

    Questions create skills through this too, so a request that meets a
    simultaneous creation of the same name re-reads it instead of failing.
    """
    return get_or_create(session, Skill, name=name)


def endorse(
    session: Session,
    endorser: User,
    user: User,
    skill_id: int | None = None,
    industry_code: str | None = None,
) -> bool:
    """Endorse a person's declared skill or industry, or withdraw it.

    Returns True when the endorsement now exists. Each colleague endorses a
    skill or industry at most once, and a person cannot endorse themselves.
    """
    if (skill_id is None) == (not industry_code):
        raise ValidationError(_("请选择要认可的一项技能或一个行业。"), field="subject")
    if endorser.id == user.id:
        raise PermissionDenied(_("不能认可自己的专长。"))
    if skill_id is not None:
        declared = session.get(ExpertiseSkill, (user.id, skill_id))
        subject = Endorsement.skill_id == skill_id
    else:
        declared = session.get(ExpertiseIndustry, (user.id, industry_code))
        subject = Endorsement.industry_code == industry_code
    if declared is None:
        raise ValidationError(
            _("只能认可对方已声明的技能或行业。"),
            field="skill" if skill_id is not None else "industry",
        )
    existing = session.scalar(
        select(Endorsement).where(
            Endorsement.user_id == user.id,
            Endorsement.endorser_id == endorser.id,
            subject,
        )
    )
    if existing is not None:
        session.delete(existing)
        session.flush()
        return False
    try:
        with session.begin_nested():
            session.add(
                Endorsement(
                    user_id=user.id,
                    endorser_id=endorser.id,
                    skill_id=skill_id,
                    industry_code=industry_code or None,
                )
            )
    except IntegrityError:
        # A simultaneous request by the same colleague added it.
        return True
    return True


def endorsement_counts(
    session: Session, user_id: int, viewer_id: int
) -> tuple[dict[tuple[str, str], int], set[tuple[str, str]]]:
    """Count endorsements per declared item and list those ``viewer_id`` gave.

    Keys are ("skill", "<id>") or ("industry", "<code>").
    """
    counts: dict[tuple[str, str], int] = {}
    mine: set[tuple[str, str]] = set()
    rows = session.execute(
        select(
            Endorsement.skill_id,
            Endorsement.industry_code,
            func.count(Endorsement.id),
            func.max(case((Endorsement.endorser_id == viewer_id, 1), else_=0)),
        )
        .where(Endorsement.user_id == user_id)
        .group_by(Endorsement.skill_id, Endorsement.industry_code)
    )
    for skill_id, industry_code, n, by_viewer in rows:
        key = ("skill", str(skill_id)) if skill_id else ("industry", industry_code)
        counts[key] = n
        if by_viewer:
            mine.add(key)
    return counts, mine


def recent_contributions_for(
    session: Session, viewer: User, user_ids, limit: int = 3
) -> dict[int, list[Contribution]]:
    """Return the latest briefs, posts and accepted answers of each person.

    Posts are limited to those ``viewer`` may read, and anonymous reports are
    never listed. Three queries cover every person together.
    """
    ids = list(dict.fromkeys(int(i) for i in user_ids if i is not None))
    result: dict[int, list[Contribution]] = {i: [] for i in ids}
    if not ids or limit <= 0:
        return result

    def latest(kind, owner, record_id, title, when, *conditions):
        rank = (
            func.row_number()
            .over(partition_by=owner, order_by=(when.desc(), record_id.desc()))
            .label("rank")
        )
        inner = (
            select(
                owner.label("owner"),
                record_id.label("record_id"),
                title.label("title"),
                when.label("at"),
                rank,
            )
            .where(owner.in_(ids), *conditions)
            .subquery()
        )
        rows = session.execute(
            select(inner.c.owner, inner.c.record_id, inner.c.title, inner.c.at).where(
                inner.c.rank <= limit
            )
        )
        for owner_id, item_id, item_title, at in rows:
            result[owner_id].append(Contribution(kind, item_id, item_title, at))

    latest(
        "brief",
        Article.author_id,
        Article.id,
        Article.title,
        Article.published_at,
    )
    latest(
        "post",
        Post.author_id,
        Post.id,
        Post.title,
        Post.created_at,
        Post.anonymous.is_(False),
        visible_posts(viewer),
    )
    answer_query_conditions = and_(
        Answer.accepted.is_(True),
        Answer.hidden.is_(False),
        Question.hidden.is_(False),
        Question.id == Answer.question_id,
    )
    latest(
        "answer",
        Answer.author_id,
        Question.id,
        Question.title,
        Answer.created_at,
        answer_query_conditions,
    )
    for items in result.values():
        items.sort(key=lambda item: item.when, reverse=True)
        del items[limit:]
    return result


def recent_contributions(
    session: Session, viewer: User, user: User, limit: int = 10
) -> list[Contribution]:
    """Return the person's latest work that ``viewer`` may read, newest first."""
    return recent_contributions_for(session, viewer, [user.id], limit)[user.id]
