"""Evidence of expertise and the ranking of people: the one place that ranks.

Evidence is what a person did, counted by the system. It covers only content
every member of staff can read, so a count never reveals a restricted post:

* briefs: briefs the person wrote (every brief is readable by all staff);
* accepted answers: answers an asker accepted, question and answer not hidden,
  and never an answer to the person's own question;
* useful signals: colleagues' "useful" marks on the person's forum posts that
  have visibility "all" and are neither hidden nor anonymous;
* useful answers: colleagues' "useful" marks on the person's answers that are
  not hidden, under questions that are not hidden;
* endorsements: colleagues who endorsed a skill or an industry the person
  declares, each colleague counted once.

A topic is a set of industry codes and skill ids. Content counts for an
industry division when it is tagged with that division or with its section,
and for a skill when it carries a tag of the same (normalised) name. Accepted
answers and useful marks on answers count for the question's industries and
skills, endorsements for the endorsed skill or industry. Without a topic all
evidence counts.

Every count is an SQL aggregate grouped by person, so the cost does not grow
with one query per person.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload
from sqlalchemy.sql.elements import ColumnElement

from kb.articles.models import Article, article_industry, article_tag
from kb.auth.models import Department, User
from kb.experts.models import (
    Endorsement,
    ExpertiseIndustry,
    ExpertiseSkill,
    ExpertProfile,
    Skill,
)
from kb.forum.models import Post, UsefulMark, post_industry, post_tag
from kb.questions.models import Answer, Question, question_industry, question_skill
from kb.taxonomy.models import Industry, Tag

WEIGHTS = {
    "accepted_answers": 5,
    "briefs": 3,
    "endorsements": 2,
    "useful_signals": 1,
    "useful_answers": 1,
}
"""Points per unit of evidence; a declared level adds nothing to the score."""

# Free text is split into at most this many words; the rest is ignored.
MAX_TEXT_WORDS = 6
# A word shorter than this never names an industry or a skill by itself.
MIN_TOPIC_WORD = 2


@dataclass(frozen=True)
class Evidence:
    briefs: int = 0  # briefs written
    accepted_answers: int = 0  # answers accepted by askers
    useful_signals: int = 0  # "useful" marks colleagues gave to the person's posts
    useful_answers: int = 0  # "useful" marks on the person's answers
    endorsements: int = 0  # endorsements from colleagues

    @property
    def score(self) -> float:
        return float(sum(getattr(self, name) * w for name, w in WEIGHTS.items()))

    @property
    def total(self) -> int:
        """Number of evidence items of every kind together."""
        return sum(getattr(self, name) for name in WEIGHTS)


@dataclass(frozen=True)
class RankedPerson:
    user: User
    score: float
    evidence: Evidence
    industries: list[ExpertiseIndustry]  # declared, matching first
    skills: list[ExpertiseSkill]


@dataclass(frozen=True)
class _Topic:
    """Industry codes (each division with its section) and skill ids."""

    codes: frozenset[str] = frozenset()
    skill_ids: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.codes and not self.skill_ids


@dataclass
class _TextQuery:
    words: list[str] = field(default_factory=list)
    # Per word: the topic it names, possibly empty.
    topics: list[_Topic] = field(default_factory=list)


def _expand_codes(session: Session, codes) -> frozenset[str]:
    """Return the codes content may carry to count for ``codes``.

    A division also matches content tagged with its section. A section matches
    content tagged with it or with any of its divisions.
    """
    requested = frozenset(code for code in codes if code)
    if not requested:
        return frozenset()
    rows = session.execute(
        select(Industry.code, Industry.level, Industry.section_code).where(
            or_(Industry.code.in_(requested), Industry.section_code.in_(requested))
        )
    ).all()
    expanded = set(requested)
    for code, level, section_code in rows:
        if code in requested and level == "division" and section_code:
            expanded.add(section_code)
        if section_code in requested:
            expanded.add(code)
    return frozenset(expanded)


def _topic(session: Session, industry_codes=(), skill_ids=()) -> _Topic:
    return _Topic(
        codes=_expand_codes(session, industry_codes),
        skill_ids=frozenset(int(i) for i in skill_ids),
    )


def _merge(topics: list[_Topic]) -> _Topic:
    return _Topic(
        codes=frozenset().union(*(t.codes for t in topics)),
        skill_ids=frozenset().union(*(t.skill_ids for t in topics)),
    )


def _tagged(owner_id, industry_link, tag_link, key: str, topic: _Topic):
    """Condition: the brief or post whose id is ``owner_id`` matches the topic.

    ``industry_link`` and ``tag_link`` are its association tables, whose
    column ``key`` contains the brief or post id.
    """
    conditions = []
    if topic.codes:
        conditions.append(
            exists().where(
                industry_link.c[key] == owner_id,
                industry_link.c.industry_code.in_(topic.codes),
            )
        )
    if topic.skill_ids:
        skill_names = select(Skill.name).where(Skill.id.in_(topic.skill_ids))
        conditions.append(
            exists().where(
                tag_link.c[key] == owner_id,
                tag_link.c.tag_id == Tag.id,
                Tag.name.in_(skill_names),
            )
        )
    return or_(*conditions) if conditions else false()


def _question_matches(topic: _Topic) -> ColumnElement[bool]:
    conditions = []
    if topic.codes:
        conditions.append(
            exists().where(
                question_industry.c.question_id == Question.id,
                question_industry.c.industry_code.in_(topic.codes),
            )
        )
    if topic.skill_ids:
        conditions.append(
            exists().where(
                question_skill.c.question_id == Question.id,
                question_skill.c.skill_id.in_(topic.skill_ids),
            )
        )
    return or_(*conditions) if conditions else false()


def _public_post() -> ColumnElement[bool]:
    """Posts every member of staff may read, with a named author."""
    return and_(
        Post.visibility == "all",
        Post.hidden.is_(False),
        Post.anonymous.is_(False),
        Post.author_id.is_not(None),
    )


def _briefs(topic: _Topic, user_ids=None):
    query = select(
        Article.author_id.label("user_id"), func.count(Article.id).label("n")
    ).where(Article.author_id.is_not(None))
    if not topic.empty:
        query = query.where(
            _tagged(Article.id, article_industry, article_tag, "article_id", topic)
        )
    if user_ids is not None:
        query = query.where(Article.author_id.in_(user_ids))
    return query.group_by(Article.author_id)


def _accepted_answers(topic: _Topic, user_ids=None):
    query = (
        select(Answer.author_id.label("user_id"), func.count(Answer.id).label("n"))
        .join(Question, Question.id == Answer.question_id)
        .where(
            Answer.accepted.is_(True),
            Answer.hidden.is_(False),
            Question.hidden.is_(False),
            Question.asker_id != Answer.author_id,
        )
    )
    if not topic.empty:
        query = query.where(_question_matches(topic))
    if user_ids is not None:
        query = query.where(Answer.author_id.in_(user_ids))
    return query.group_by(Answer.author_id)


def _useful_signals(topic: _Topic, user_ids=None):
    query = (
        select(Post.author_id.label("user_id"), func.count(UsefulMark.id).label("n"))
        .join(Post, Post.id == UsefulMark.post_id)
        .where(_public_post(), UsefulMark.user_id != Post.author_id)
    )
    if not topic.empty:
        query = query.where(_tagged(Post.id, post_industry, post_tag, "post_id", topic))
    if user_ids is not None:
        query = query.where(Post.author_id.in_(user_ids))
    return query.group_by(Post.author_id)


def _useful_answers(topic: _Topic, user_ids=None):
    query = (
        select(Answer.author_id.label("user_id"), func.count(UsefulMark.id).label("n"))
        .join(Answer, Answer.id == UsefulMark.answer_id)
        .join(Question, Question.id == Answer.question_id)
        .where(
            Answer.hidden.is_(False),
            Question.hidden.is_(False),
            UsefulMark.user_id != Answer.author_id,
        )
    )
    if not topic.empty:
        query = query.where(_question_matches(topic))
    if user_ids is not None:
        query = query.where(Answer.author_id.in_(user_ids))
    return query.group_by(Answer.author_id)


def _declared_endorsement() -> ColumnElement[bool]:
    """Return a condition: the endorsed skill or industry is still declared."""
    return or_(
        exists().where(
            ExpertiseSkill.user_id == Endorsement.user_id,
            ExpertiseSkill.skill_id == Endorsement.skill_id,
        ),
        exists().where(
            ExpertiseIndustry.user_id == Endorsement.user_id,
            ExpertiseIndustry.industry_code == Endorsement.industry_code,
        ),
    )


def _endorsements(topic: _Topic, user_ids=None):
    query = select(
        Endorsement.user_id.label("user_id"),
        func.count(func.distinct(Endorsement.endorser_id)).label("n"),
    ).where(_declared_endorsement())
    if not topic.empty:
        conditions = []
        if topic.codes:
            conditions.append(Endorsement.industry_code.in_(topic.codes))
        if topic.skill_ids:
            conditions.append(Endorsement.skill_id.in_(topic.skill_ids))
        query = query.where(or_(*conditions))
    if user_ids is not None:
        query = query.where(Endorsement.user_id.in_(user_ids))
    return query.group_by(Endorsement.user_id)


_KINDS = {
    "briefs": _briefs,
    "accepted_answers": _accepted_answers,
    "useful_signals": _useful_signals,
    "useful_answers": _useful_answers,
    "endorsements": _endorsements,
}


def _users_with_evidence(topic: _Topic):
    """Return a SELECT of the ids of people with any evidence in ``topic``."""
    selects = []
    for builder in _KINDS.values():
        sub = builder(topic).subquery()
        selects.append(select(sub.c.user_id))
    return union(*selects)


def evidence_for(
    session: Session, user_ids, *, industry_codes=(), skill_ids=()
) -> dict[int, Evidence]:
    """Count the evidence of ``user_ids`` in a topic; all evidence without one.

    Every id in ``user_ids`` gets an entry, zero counts included.
    """
    ids = list(dict.fromkeys(int(i) for i in user_ids if i is not None))
    if not ids:
        return {}
    topic = _topic(session, industry_codes, skill_ids)
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    for name, builder in _KINDS.items():
        for user_id, n in session.execute(builder(topic, ids)):
            counts[user_id][name] = n
    return {i: Evidence(**values) for i, values in counts.items()}


_QUOTES = str.maketrans(dict.fromkeys("\"'“”‘’「」『』《》", " "))


def normalize_text(text: str) -> str:
    """Fold free text the way skill names are stored: NFKC and case folding.

    Quotation marks are dropped, so "汽车" in quotes finds what 汽车 finds.
    """
    text = unicodedata.normalize("NFKC", text or "")
    text = text.translate(_QUOTES)
    return " ".join(unicodedata.normalize("NFKC", text.casefold()).split())


def _parse_text(session: Session, text: str) -> _TextQuery:
    """Split free text into words and find the industry or skill each one names.

    A word names an industry when it equals the industry code, or when the
    name contains the word or the word contains the name. Skill names match
    the same way.
    """
    words = list(dict.fromkeys(normalize_text(text).split()))[:MAX_TEXT_WORDS]
    if not words:
        return _TextQuery()
    industries = session.execute(select(Industry.code, Industry.name)).all()
    # Compared in Python: a skill name may contain % or _, which LIKE would
    # read as wildcards.
    skills = session.execute(select(Skill.id, Skill.name)).all()
    topics = []
    for word in words:
        codes = set()
        skill_ids = set()
        if len(word) >= MIN_TOPIC_WORD:
            for code, name in industries:
                folded = normalize_text(name)
                if word == code.casefold() or word in folded or folded in word:
                    codes.add(code)
            for skill_id, name in skills:
                if word in name or (len(name) >= MIN_TOPIC_WORD and name in word):
                    skill_ids.add(skill_id)
        topics.append(_topic(session, codes, skill_ids))
    return _TextQuery(words=words, topics=topics)


def _declared_in(topic: _Topic) -> ColumnElement[bool]:
    """Condition on User: the person declares an industry or skill of ``topic``."""
    conditions = []
    if topic.codes:
        conditions.append(
            exists().where(
                ExpertiseIndustry.user_id == User.id,
                ExpertiseIndustry.industry_code.in_(topic.codes),
            )
        )
    if topic.skill_ids:
        conditions.append(
            exists().where(
                ExpertiseSkill.user_id == User.id,
                ExpertiseSkill.skill_id.in_(topic.skill_ids),
            )
        )
    return or_(*conditions) if conditions else false()


def _declared_anything() -> ColumnElement[bool]:
    return or_(
        exists().where(ExpertiseIndustry.user_id == User.id),
        exists().where(ExpertiseSkill.user_id == User.id),
    )


def _word_matches(word: str) -> ColumnElement[bool]:
    """Condition on User: ``word`` is in a name, department, headline or declaration."""

    def has(column):
        return func.lower(column).contains(word, autoescape=True)

    return or_(
        has(User.display_name),
        has(User.username),
        has(Department.name),
        has(ExpertProfile.headline),
        exists().where(
            ExpertiseSkill.user_id == User.id,
            ExpertiseSkill.skill_id == Skill.id,
            Skill.name.contains(word, autoescape=True),
        ),
        exists().where(
            ExpertiseIndustry.user_id == User.id,
            ExpertiseIndustry.industry_code == Industry.code,
            func.lower(Industry.name).contains(word, autoescape=True),
        ),
        # Briefs are readable by all staff, so their titles and tags may
        # show what a person knows without any declaration.
        exists().where(
            Article.author_id == User.id,
            func.lower(Article.title).contains(word, autoescape=True),
        ),
        exists().where(
            Article.author_id == User.id,
            article_tag.c.article_id == Article.id,
            article_tag.c.tag_id == Tag.id,
            Tag.name == word,
        ),
    )


def _declared_level(topic: _Topic):
    """Return the highest declared level in ``topic``, or in anything without one."""
    industry = select(func.max(ExpertiseIndustry.level)).where(
        ExpertiseIndustry.user_id == User.id
    )
    skill = select(func.max(ExpertiseSkill.level)).where(
        ExpertiseSkill.user_id == User.id
    )
    if not topic.empty:
        industry = industry.where(ExpertiseIndustry.industry_code.in_(topic.codes))
        skill = skill.where(ExpertiseSkill.skill_id.in_(topic.skill_ids))
    industry_level = func.coalesce(industry.scalar_subquery(), 0)
    skill_level = func.coalesce(skill.scalar_subquery(), 0)
    return case((industry_level > skill_level, industry_level), else_=skill_level)


def rank_people(
    session: Session,
    *,
    industry_codes=(),
    skill_ids=(),
    text="",
    exclude_ids=(),
    limit=20,
    offset=0,
) -> list[RankedPerson]:
    """Rank active people by evidence, best first.

    With industries or skills, a person appears when they have evidence in
    them or declare one of them, and the score counts that evidence only.
    Every word of ``text`` must match the person's name, username, department,
    headline or a declared industry or skill name, or name an industry or skill
    in which the person has evidence or which they declare. Without explicit
    industries and skills, the industries and skills the text names are the
    topic of the score. Without any filter everyone with evidence or a
    declaration appears. Ties go to the higher declared level, then by name.
    """
    explicit = _topic(session, industry_codes, skill_ids)
    text_query = _parse_text(session, text)
    score_topic = explicit if not explicit.empty else _merge(text_query.topics)

    subqueries = {
        name: builder(score_topic).subquery() for name, builder in _KINDS.items()
    }
    counts = {name: func.coalesce(sub.c.n, 0) for name, sub in subqueries.items()}
    score = sum(counts[name] * weight for name, weight in WEIGHTS.items())
    score = cast(score, Float).label("score")
    level = _declared_level(score_topic).label("level")

    query = (
        select(
            User, *(value.label(name) for name, value in counts.items()), score, level
        )
        .join(Department, Department.id == User.department_id)
        .outerjoin(ExpertProfile, ExpertProfile.user_id == User.id)
        .where(User.active.is_(True))
        .options(contains_eager(User.department))
    )
    for sub in subqueries.values():
        query = query.outerjoin(sub, sub.c.user_id == User.id)
    exclude = [int(i) for i in exclude_ids if i is not None]
    if exclude:
        query = query.where(User.id.not_in(exclude))
    if not explicit.empty:
        query = query.where(or_(score > 0, _declared_in(explicit)))
    for word, topic in zip(text_query.words, text_query.topics, strict=True):
        conditions = [_word_matches(word)]
        if not topic.empty:
            conditions.append(_declared_in(topic))
            if topic == score_topic:
                # The score already counts exactly this topic's evidence.
                conditions.append(score > 0)
            else:
                conditions.append(User.id.in_(_users_with_evidence(topic)))
        query = query.where(or_(*conditions))
    if explicit.empty and not text_query.words:
        query = query.where(or_(score > 0, _declared_anything()))
    query = (
        query.order_by(score.desc(), level.desc(), User.display_name, User.id)
        .limit(max(int(limit), 0))
        .offset(max(int(offset), 0))
    )
    rows = session.execute(query).all()
    declared = _declarations(session, [row[0].id for row in rows], score_topic)
    people = []
    for row in rows:
        user = row[0]
        evidence = Evidence(**{name: row._mapping[name] for name in _KINDS})
        industries, skills = declared.get(user.id, ([], []))
        people.append(
            RankedPerson(
                user=user,
                score=evidence.score,
                evidence=evidence,
                industries=industries,
                skills=skills,
            )
        )
    return people


def _declarations(
    session: Session, user_ids: list[int], topic: _Topic
) -> dict[int, tuple[list[ExpertiseIndustry], list[ExpertiseSkill]]]:
    """Load declared industries and skills of ``user_ids``, those in ``topic`` first."""
    result: dict[int, tuple[list, list]] = {i: ([], []) for i in user_ids}
    if not user_ids:
        return result
    industries = session.scalars(
        select(ExpertiseIndustry)
        .options(joinedload(ExpertiseIndustry.industry))
        .join(Industry, Industry.code == ExpertiseIndustry.industry_code)
        .where(ExpertiseIndustry.user_id.in_(user_ids))
        .order_by(ExpertiseIndustry.level.desc(), Industry.code)
    ).all()
    skills = session.scalars(
        select(ExpertiseSkill)
        .options(joinedload(ExpertiseSkill.skill))
        .join(Skill, Skill.id == ExpertiseSkill.skill_id)
        .where(ExpertiseSkill.user_id.in_(user_ids))
        .order_by(ExpertiseSkill.level.desc(), Skill.name)
    ).all()
    for item in industries:
        result[item.user_id][0].append(item)
    for item in skills:
        result[item.user_id][1].append(item)
    for declared_industries, declared_skills in result.values():
        # Stable sorts keep the level order within each group.
        declared_industries.sort(key=lambda d: d.industry_code not in topic.codes)
        declared_skills.sort(key=lambda d: d.skill_id not in topic.skill_ids)
    return result


def expert_badges(
    session: Session, user_ids, industry_codes
) -> dict[int, list[Industry]]:
    """Return, per person, the industries of a post they are experts in.

    A person is an expert in an industry division when they declare it and
    have evidence in it. The division must be one of ``industry_codes`` or lie
    in a section among them. One query covers every person on a page.
    """
    ids = list(dict.fromkeys(int(i) for i in user_ids if i is not None))
    codes = _expand_codes(session, industry_codes)
    if not ids or not codes:
        return {}
    declared = aliased(ExpertiseIndustry)
    industry = aliased(Industry)
    content_codes = [industry.code, industry.section_code]
    person = declared.user_id

    brief = exists().where(
        Article.author_id == person,
        article_industry.c.article_id == Article.id,
        article_industry.c.industry_code.in_(content_codes),
    )
    accepted = exists().where(
        Answer.author_id == person,
        Answer.accepted.is_(True),
        Answer.hidden.is_(False),
        Question.id == Answer.question_id,
        Question.hidden.is_(False),
        Question.asker_id != person,
        question_industry.c.question_id == Question.id,
        question_industry.c.industry_code.in_(content_codes),
    )
    signal = exists().where(
        Post.author_id == person,
        _public_post(),
        UsefulMark.post_id == Post.id,
        UsefulMark.user_id != person,
        post_industry.c.post_id == Post.id,
        post_industry.c.industry_code.in_(content_codes),
    )
    answer = exists().where(
        Answer.author_id == person,
        Answer.hidden.is_(False),
        UsefulMark.answer_id == Answer.id,
        UsefulMark.user_id != person,
        Question.id == Answer.question_id,
        Question.hidden.is_(False),
        question_industry.c.question_id == Question.id,
        question_industry.c.industry_code.in_(content_codes),
    )
    # Endorsements alone never earn a badge: two colleagues could endorse
    # each other without having written anything.
    rows = session.execute(
        select(declared.user_id, industry)
        .join(industry, industry.code == declared.industry_code)
        .join(User, User.id == declared.user_id)
        .where(
            declared.user_id.in_(ids),
            declared.industry_code.in_(codes),
            User.active.is_(True),
            or_(brief, accepted, signal, answer),
        )
        .order_by(declared.user_id, declared.level.desc(), industry.code)
    ).all()
    badges: dict[int, list[Industry]] = {}
    for user_id, row in rows:
        badges.setdefault(user_id, []).append(row)
    return badges
