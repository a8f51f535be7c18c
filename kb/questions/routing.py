"""Who is asked to answer a question: routing, escalation and the expert queue.

Experts are chosen by evidence with ``kb.experts.evidence.rank_people`` for the
question's industries and skills: the best KB_QUESTION_EXPERTS people with a
score above zero, never the asker, never a deactivated account. When nobody
has evidence, the question goes to the people who declared one of its
industries or skills, highest declared level first. A person asked once is
never asked again about the same question (a unique index on QuestionRouting).

An open question without answers is escalated once KB_QUESTION_ESCALATE_DAYS
working days (``kb.questions.workdays``) have passed since it was last routed:
it goes to the next-best KB_QUESTION_EXPERTS people not yet asked. When nobody
is left, every active admin gets one "stalled" notification per question.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from kb.auth.models import User
from kb.experts.evidence import rank_people
from kb.experts.models import ExpertiseIndustry, ExpertiseSkill, Skill
from kb.notifications.models import Notification
from kb.questions.models import Answer, Question, QuestionRouting
from kb.questions.services import notification_reason, notify
from kb.questions.workdays import WorkCalendar
from kb.taxonomy.models import Industry
from kb.timeutil import utcnow

logger = logging.getLogger(__name__)

# People beyond the wanted number asked of rank_people, because some of them
# may be filtered out here (deactivated, score 0).
_RANK_SLACK = 20


@dataclass(frozen=True)
class Candidate:
    """A person to ask; ``basis`` is "evidence", "declared" or "chosen"."""

    user: User
    score: float
    basis: str


def _topic(question: Question) -> tuple[list[str], list[int]]:
    codes = [industry.code for industry in question.industries]
    skill_ids = [skill.id for skill in question.skills]
    return codes, skill_ids


def _declared_codes(session: Session, codes: list[str]) -> set[str]:
    """Return ``codes`` with the divisions of any section among them.

    People declare divisions only, so a question about a section (such as C
    制造业) matches everyone who declared one of its divisions.
    """
    expanded = set(codes)
    if codes:
        expanded.update(
            session.scalars(
                select(Industry.code).where(Industry.section_code.in_(codes))
            )
        )
    return expanded


def _by_declaration(
    session: Session, question: Question, exclude_ids: set[int], count: int
) -> list[Candidate]:
    """Return up to ``count`` people who declared the question's topics.

    The order is the highest declared level, then the number of matching
    declarations, then the display name.
    """
    codes, skill_ids = _topic(question)
    levels: dict[int, list[int]] = {}
    queries = []
    declared_codes = _declared_codes(session, codes)
    if declared_codes:
        queries.append(
            select(ExpertiseIndustry.user_id, ExpertiseIndustry.level).where(
                ExpertiseIndustry.industry_code.in_(declared_codes)
            )
        )
    if skill_ids:
        queries.append(
            select(ExpertiseSkill.user_id, ExpertiseSkill.level).where(
                ExpertiseSkill.skill_id.in_(skill_ids)
            )
        )
    for query in queries:
        for user_id, level in session.execute(query):
            if user_id not in exclude_ids:
                levels.setdefault(user_id, []).append(level)
    if not levels:
        return []
    users = session.scalars(select(User).where(User.id.in_(levels), User.active))
    ordered = sorted(
        users,
        key=lambda user: (
            -max(levels[user.id]),
            -len(levels[user.id]),
            user.display_name,
            user.id,
        ),
    )
    return [Candidate(user, 0.0, "declared") for user in ordered[:count]]


def next_experts(
    session: Session, question: Question, exclude_ids: set[int], count: int
) -> list[Candidate]:
    """Return the best ``count`` people to ask who are not in ``exclude_ids``.

    People with evidence (score above zero) come first; only when none is left
    does the choice fall back to declared expertise.
    """
    if count <= 0:
        return []
    codes, skill_ids = _topic(question)
    ranked = rank_people(
        session,
        industry_codes=codes,
        skill_ids=skill_ids,
        exclude_ids=tuple(sorted(exclude_ids)),
        limit=count + _RANK_SLACK,
    )
    chosen = [
        Candidate(person.user, float(person.score), "evidence")
        for person in ranked
        if person.score > 0 and person.user.active and person.user.id not in exclude_ids
    ][:count]
    if chosen:
        return chosen
    return _by_declaration(session, question, exclude_ids, count)


def _record(
    session: Session,
    question: Question,
    candidates: list[Candidate],
    round_number: int,
    event: str,
) -> None:
    for candidate in candidates:
        session.add(
            QuestionRouting(
                question_id=question.id,
                user_id=candidate.user.id,
                round=round_number,
                score=candidate.score,
            )
        )
        notify(
            session,
            candidate.user.id,
            event,
            question,
            notification_reason(candidate.basis, question),
        )
    session.flush()


def route_new(
    session: Session, question: Question, expert: User | None = None, now=None
) -> list[Candidate]:
    """Route a new question (round 0) and notify everyone asked.

    ``expert`` is the person the asker chose; they come first and do not take
    one of the KB_QUESTION_EXPERTS places.
    """
    count = current_app.config["KB_QUESTION_EXPERTS"]
    exclude = {question.asker_id}
    candidates = []
    if expert is not None:
        candidates.append(Candidate(expert, 0.0, "chosen"))
        exclude.add(expert.id)
    candidates += next_experts(session, question, exclude, count)
    question.last_routed_at = _as_utc(now) if now is not None else utcnow()
    _record(session, question, candidates, 0, "question")
    logger.info(
        "Question %s routed to users %s",
        question.id,
        ",".join(str(c.user.id) for c in candidates) or "none",
    )
    return candidates


def routed_count(session: Session, question: Question) -> int:
    return (
        session.scalar(
            select(func.count(QuestionRouting.id)).where(
                QuestionRouting.question_id == question.id
            )
        )
        or 0
    )


# -- escalation --------------------------------------------------------------


@dataclass
class Escalation:
    """What one escalation run did, or in a dry run would do, to a question.

    ``experts`` is empty when nobody was left to ask; ``admins_notified`` then
    says whether the admins were notified (once per question).
    """

    question: Question
    round: int
    experts: list[Candidate] = field(default_factory=list)
    admins_notified: bool = False


def _as_utc(now: datetime) -> datetime:
    """Return ``now`` as naive UTC; a naive value is taken as UTC already."""
    if now.tzinfo is not None:
        return now.astimezone(UTC).replace(tzinfo=None)
    return now


def awaiting_answer():
    """SQL condition: no visible answer from anyone but the asker.

    The asker may add details as an answer; that must not take the question
    out of the experts' queues or stop its escalation.
    """
    return ~exists().where(
        Answer.question_id == Question.id,
        Answer.author_id != Question.asker_id,
        Answer.hidden.is_(False),
    )


def _due_questions(session: Session, calendar: WorkCalendar, days: int, now):
    """Open, visible, unanswered questions routed ``days`` working days ago."""
    candidates = session.scalars(
        select(Question)
        .where(
            Question.status == "open",
            Question.hidden.is_(False),
            awaiting_answer(),
            Question.last_routed_at <= now,
        )
        .order_by(Question.last_routed_at, Question.id)
    )
    return [
        question
        for question in candidates
        if calendar.due_at(question.last_routed_at, days) <= now
    ]


def _admins_notified(session: Session, question: Question) -> bool:
    return (
        session.scalar(
            select(Notification.id)
            .where(
                Notification.question_id == question.id,
                Notification.event == "stalled",
            )
            .limit(1)
        )
        is not None
    )


def escalate(
    session: Session, now: datetime, dry_run: bool = False
) -> list[Escalation]:
    """Send every overdue question to the next-best experts; return what was done.

    ``now`` is a naive UTC datetime or an aware one. A dry run returns the
    same list and writes nothing. Raises ConfigError for invalid
    KB_HOLIDAYS or KB_EXTRA_WORKDAYS.
    """
    config = current_app.config
    calendar = WorkCalendar.from_config(config)
    now = _as_utc(now)
    count = config["KB_QUESTION_EXPERTS"]
    results = []
    days = config["KB_QUESTION_ESCALATE_DAYS"]
    for question in _due_questions(session, calendar, days, now):
        if not dry_run:
            # Lock the question and check again: a simultaneous run may have
            # escalated it, and must not ask the same experts twice.
            session.refresh(question, with_for_update=True)
            if calendar.due_at(question.last_routed_at, days) > now:
                continue
        rows = session.execute(
            select(QuestionRouting.user_id, QuestionRouting.round).where(
                QuestionRouting.question_id == question.id
            )
        ).all()
        asked = {user_id for user_id, _round in rows} | {question.asker_id}
        next_round = max((round_ for _user, round_ in rows), default=-1) + 1
        candidates = next_experts(session, question, asked, count)
        if candidates:
            results.append(Escalation(question, next_round, candidates))
            if not dry_run:
                question.escalation_count = (question.escalation_count or 0) + 1
                question.last_routed_at = now
                _record(session, question, candidates, next_round, "escalated")
                logger.info(
                    "Question %s escalated (round %s) to users %s",
                    question.id,
                    next_round,
                    ",".join(str(c.user.id) for c in candidates),
                )
            continue
        if _admins_notified(session, question):
            continue
        results.append(Escalation(question, next_round, [], admins_notified=True))
        if not dry_run:
            admins = session.scalars(
                select(User.id).where(User.role == "admin", User.active)
            ).all()
            for admin_id in admins:
                notify(
                    session,
                    admin_id,
                    "stalled",
                    question,
                    notification_reason("stalled", question),
                )
            session.flush()
            logger.warning(
                "Question %s has no experts left to ask; %s admins notified",
                question.id,
                len(admins),
            )
    return results


def escalate_due(session: Session, now: datetime) -> list[Question]:
    """Escalate every overdue question; return those that went to more experts."""
    return [item.question for item in escalate(session, now) if item.experts]


# -- the expert queue --------------------------------------------------------


@dataclass
class QueueItem:
    question: Question
    routed: bool  # the question was sent to this person


def _queue_condition(session: Session, user: User):
    routed = select(QuestionRouting.question_id).where(
        QuestionRouting.user_id == user.id
    )
    codes = set(
        session.scalars(
            select(ExpertiseIndustry.industry_code).where(
                ExpertiseIndustry.user_id == user.id
            )
        )
    )
    if codes:
        # A question about a section matches a declared division under it.
        codes.update(
            code
            for code in session.scalars(
                select(Industry.section_code).where(Industry.code.in_(codes))
            )
            if code
        )
    skill_ids = list(
        session.scalars(
            select(ExpertiseSkill.skill_id).where(ExpertiseSkill.user_id == user.id)
        )
    )
    matches = [Question.id.in_(routed)]
    if codes:
        matches.append(Question.industries.any(Industry.code.in_(codes)))
    if skill_ids:
        matches.append(Question.skills.any(Skill.id.in_(skill_ids)))
    answered_by_user = exists().where(
        Answer.question_id == Question.id,
        Answer.author_id == user.id,
        Answer.hidden.is_(False),
    )
    return and_(
        Question.status == "open",
        Question.hidden.is_(False),
        Question.asker_id != user.id,
        ~answered_by_user,
        or_(*matches),
    )


def queue(
    session: Session, user: User, page: int, per_page: int
) -> tuple[list[QueueItem], int]:
    """Return one page of the questions waiting for ``user``, and the total.

    These are open questions routed to the user, plus open questions in the
    industries and skills the user declared, less those the user answered.
    Questions without an answer from anyone but the asker come first, then
    the oldest.
    """
    condition = _queue_condition(session, user)
    total = session.scalar(select(func.count(Question.id)).where(condition)) or 0
    questions = session.scalars(
        select(Question)
        .where(condition)
        .order_by(
            case((awaiting_answer(), 0), else_=1),
            Question.created_at.asc(),
            Question.id.asc(),
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    routed_ids = set(
        session.scalars(
            select(QuestionRouting.question_id).where(
                QuestionRouting.user_id == user.id,
                QuestionRouting.question_id.in_([q.id for q in questions]),
            )
        )
    )
    items = [QueueItem(question, question.id in routed_ids) for question in questions]
    return items, total


def queue_unanswered_count(session: Session, user: User) -> int:
    """Count the unanswered questions in ``user``'s queue, for a badge."""
    condition = _queue_condition(session, user)
    return (
        session.scalar(
            select(func.count(Question.id)).where(condition, awaiting_answer())
        )
        or 0
    )
