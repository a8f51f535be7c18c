"""Questions to experts: validation, asking, answers, acceptance, moderation.

Services take a session and never commit; the caller commits once. Every
member of staff may read a question that is not hidden; a hidden question or
answer is visible to admins only. Routing and escalation are in
``kb.questions.routing``.
"""

import logging
import unicodedata
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kb.articles.rendering import render_markdown
from kb.auth.models import User
from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.experts.models import Skill
from kb.forum.models import UsefulMark
from kb.forum.services import FormErrors, toggle_useful_mark
from kb.notifications.models import Notification
from kb.questions.models import Answer, Question
from kb.search import outbox
from kb.taxonomy.services import industries_for_codes, unknown_industry_codes
from kb.taxonomy.tags import MAX_TAG_LENGTH, normalize_tag, validate_tag
from kb.timeutil import utcnow

logger = logging.getLogger(__name__)

TITLE_MAX = 200
MAX_SKILLS = 10
MAX_INDUSTRIES = 20
REASON_MAX = 500
# Characters of ``Notification.reason``; longer topic lists are cut.
NOTIFICATION_REASON_MAX = 120

STATUS_LABELS = {
    "open": _l("待解答"),
    "answered": _l("已解答"),
    "closed": _l("已关闭"),
}


class QuestionErrors(FormErrors):
    """Raised with every invalid field of a question or answer at once."""


@dataclass
class QuestionInput:
    """A question as a person types it; skills are names, not yet normalised."""

    title: str
    body_md: str = ""
    industry_codes: list[str] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.body_md = _unix_newlines(self.body_md)


def _unix_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _visible_chars(text: str) -> str:
    return "".join(
        char
        for char in text
        if not char.isspace() and unicodedata.category(char) != "Cf"
    )


def _skill_names(raw_names: list[str]) -> list[str]:
    """Normalise skill names, dropping empties and repeats, keeping order."""
    return list(dict.fromkeys(name for name in map(normalize_tag, raw_names) if name))


def _skill_problem(name: str) -> str | None:
    """Return why a normalised skill name cannot be stored, or None."""
    quoted = name[:20] + ("…" if len(name) > 20 else "")
    if validate_tag(name) is None:
        return None
    if len(name) > MAX_TAG_LENGTH:
        return _l(
            "专业领域“%(name)s”过长：最多 %(max)s 个字符。",
            name=quoted,
            max=MAX_TAG_LENGTH,
        )
    return _l("专业领域“%(name)s”包含不可见的控制字符，请删除后重试。", name=quoted)


def validate(session: Session, data: QuestionInput, body_max: int) -> dict[str, str]:
    """Return a message per invalid field; empty when ``data`` can be asked."""
    errors: dict[str, str] = {}
    title = data.title.strip()
    if not _visible_chars(title):
        errors["title"] = _l("标题不能为空。")
    elif any(unicodedata.category(char) == "Cc" for char in title):
        errors["title"] = _l("标题含有控制字符，请删除后再提交。")
    elif len(title) > TITLE_MAX:
        errors["title"] = _l(
            "标题最长 %(max)s 个字符，当前 %(n)s 个。", max=TITLE_MAX, n=len(title)
        )

    if len(data.body_md) > body_max:
        errors["body_md"] = _l(
            "问题说明最长 %(max)s 个字符，当前 %(n)s 个，请删减后再提交。",
            max=f"{body_max:,}",
            n=f"{len(data.body_md):,}",
        )

    codes = list(dict.fromkeys(code.strip().upper() for code in data.industry_codes))
    codes = [code for code in codes if code]
    unknown = unknown_industry_codes(session, codes)
    if unknown:
        errors["industries"] = _l(
            "未知的行业代码：%(codes)s。", codes="、".join(c[:10] for c in unknown[:5])
        )
    elif len(codes) > MAX_INDUSTRIES:
        errors["industries"] = _l(
            "最多选择 %(max)s 个行业，当前 %(n)s 个。",
            max=MAX_INDUSTRIES,
            n=len(codes),
        )

    names = _skill_names(data.skills)
    if len(names) > MAX_SKILLS:
        errors["skills"] = _l(
            "最多填写 %(max)s 项专业领域，当前 %(n)s 项。", max=MAX_SKILLS, n=len(names)
        )
    else:
        for name in names:
            problem = _skill_problem(name)
            if problem:
                errors["skills"] = problem
                break

    if not codes and not names and "industries" not in errors:
        errors["industries"] = _l("请至少选择一个行业或填写一项专业领域。")
    return errors


def skills_for_names(session: Session, names: list[str]) -> list[Skill]:
    """Return the Skill rows for ``names`` in order, creating missing ones."""
    from kb.experts.services import _skill_for_name

    skills = [_skill_for_name(session, name) for name in _skill_names(names)]
    session.flush()
    return skills


def topic_label(question: Question) -> str:
    """Name the question's industries and skills: "C36 汽车制造业、供应链金融"."""
    parts = [industry.label for industry in question.industries]
    parts += [skill.name for skill in question.skills]
    return "、".join(parts)


def notification_reason(kind: str, question: Question) -> str:
    """Build ``Notification.reason`` as "<kind>:<topic>", cut to the column size."""
    reason = f"{kind}:{topic_label(question)}"
    if len(reason) > NOTIFICATION_REASON_MAX:
        reason = reason[: NOTIFICATION_REASON_MAX - 1] + "…"
    return reason


def notify(
    session: Session,
    user_id: int,
    event: str,
    question: Question,
    reason: str,
    answer: Answer | None = None,
) -> Notification:
    """Put a question notification in one inbox.

    Question notifications are "daily", so they appear in the inbox at once
    and also reach people who read mail more than the inbox, in the digest.
    """
    notification = Notification(
        user_id=user_id,
        event=event,
        question_id=question.id,
        answer_id=answer.id if answer is not None else None,
        reason=reason,
        delivery="daily",
    )
    session.add(notification)
    return notification


def create_question(
    session: Session, asker: User, data: QuestionInput, body_max: int
) -> Question:
    """Store a validated question without routing it; raises QuestionErrors."""
    errors = validate(session, data, body_max)
    if errors:
        raise QuestionErrors(errors)
    codes = [code.strip().upper() for code in data.industry_codes if code.strip()]
    now = utcnow()
    question = Question(
        title=data.title.strip(),
        body_md=data.body_md,
        body_html=render_markdown(data.body_md) if data.body_md.strip() else "",
        asker_id=asker.id,
        status="open",
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        last_routed_at=now,
    )
    question.industries = industries_for_codes(session, codes)
    question.skills = skills_for_names(session, data.skills)
    session.add(question)
    session.flush()
    logger.info("Question %s asked by user %s", question.id, asker.id)
    return question


def ask(
    session: Session,
    asker: User,
    data: QuestionInput,
    expert_id: int | None = None,
    *,
    body_max: int | None = None,
    now=None,
) -> Question:
    """Store a question and route it to experts, notifying each of them.

    ``expert_id`` is the person the asker picked in the directory ("ask this
    person"); they are asked first, before the experts chosen by evidence.
    Raises QuestionErrors for invalid input, with ``expert`` naming a person
    who does not exist, is deactivated or is the asker.
    """
    from flask import current_app

    from kb.questions import routing

    if body_max is None:
        body_max = current_app.config["KB_BODY_MAX_CHARS"]
    expert = None
    if expert_id is not None:
        expert = session.get(User, expert_id)
        if expert is None or not expert.active:
            raise QuestionErrors({"expert": _l("指定的专家不存在或已停用。")})
        if expert.id == asker.id:
            raise QuestionErrors({"expert": _l("不能指定自己回答自己的问题。")})
    question = create_question(session, asker, data, body_max)
    routing.route_new(session, question, expert, now=now)
    return question


# -- reading -----------------------------------------------------------------


def can_view_question(user: User, question: Question) -> bool:
    return user.is_admin or not question.hidden


def can_view_answer(user: User, answer: Answer) -> bool:
    if not can_view_question(user, answer.question):
        return False
    return user.is_admin or not answer.hidden


def get_visible_question(session: Session, user: User, question_id: int) -> Question:
    """Return the question, or raise NotFound when missing or hidden from ``user``."""
    question = session.get(Question, question_id)
    if question is None or not can_view_question(user, question):
        raise NotFound(str(_l("问题不存在。")))
    return question


def get_visible_answer(session: Session, user: User, answer_id: int) -> Answer:
    """Return the answer, or raise NotFound when missing or hidden from ``user``."""
    answer = session.get(Answer, answer_id)
    if answer is None or not can_view_answer(user, answer):
        raise NotFound(str(_l("回答不存在。")))
    return answer


def visible_answers(user: User, question: Question) -> list[Answer]:
    """Return the answers ``user`` may read, the accepted one first, then by age."""
    answers = [answer for answer in question.answers if can_view_answer(user, answer)]
    return sorted(answers, key=lambda answer: (not answer.accepted, answer.id))


def useful_answer_ids(session: Session, user: User, question: Question) -> set[int]:
    """Return the ids of the question's answers that ``user`` marked useful."""
    return set(
        session.scalars(
            select(UsefulMark.answer_id)
            .join(Answer, Answer.id == UsefulMark.answer_id)
            .where(UsefulMark.user_id == user.id, Answer.question_id == question.id)
        )
    )


# -- answers -----------------------------------------------------------------


def _check_body(body_md: str, body_max: int) -> str:
    body_md = _unix_newlines(body_md)
    if not _visible_chars(body_md):
        raise QuestionErrors({"body_md": _l("回答不能为空。")})
    if len(body_md) > body_max:
        raise QuestionErrors(
            {
                "body_md": _l(
                    "回答最长 %(max)s 个字符，当前 %(n)s 个，请删减后再提交。",
                    max=f"{body_max:,}",
                    n=f"{len(body_md):,}",
                )
            }
        )
    return body_md


def _reindex(session: Session, question: Question) -> None:
    """Queue the question's search entry, which quotes its visible answers."""
    outbox.enqueue(session, "question", [question.id])


def add_answer(
    session: Session, author: User, question: Question, body_md: str, body_max: int
) -> Answer:
    """Add an answer and tell the asker; raises QuestionErrors for bad input.

    Anyone, the asker included, may answer an open or answered question. A
    closed or hidden question takes no answers.
    """
    # Lock the question: its answer count and status change with each answer.
    session.refresh(question, with_for_update=True)
    if question.hidden:
        raise QuestionErrors({"body_md": _l("问题已被隐藏，不能回答。")})
    if question.status == "closed":
        raise QuestionErrors({"body_md": _l("问题已关闭，不能再回答。")})
    body_md = _check_body(body_md, body_max)
    now = utcnow()
    answer = Answer(
        question=question,
        author_id=author.id,
        body_md=body_md,
        body_html=render_markdown(body_md),
        created_at=now,
        updated_at=now,
    )
    session.add(answer)
    question.answer_count = (question.answer_count or 0) + 1
    question.last_activity_at = now
    session.flush()
    if author.id != question.asker_id and question.asker.active:
        notify(session, question.asker_id, "answer", question, "asker", answer)
    _reindex(session, question)
    session.flush()
    logger.info("Answer %s added to question %s", answer.id, question.id)
    return answer


def can_edit_answer(user: User, answer: Answer) -> bool:
    return user.is_admin or answer.author_id == user.id


def update_answer(
    session: Session, editor: User, answer: Answer, body_md: str, body_max: int
) -> bool:
    """Change an answer's text (author or admin); return whether it changed."""
    if not can_edit_answer(editor, answer):
        raise PermissionDenied(str(_l("只有回答者或管理员可以修改回答。")))
    body_md = _check_body(body_md, body_max)
    if body_md == answer.body_md:
        return False
    answer.body_md = body_md
    answer.body_html = render_markdown(body_md)
    answer.updated_at = utcnow()
    session.flush()
    _reindex(session, answer.question)
    return True


def toggle_useful(session: Session, user: User, answer: Answer) -> bool:
    """Mark or unmark an answer as useful (one per person, never one's own)."""
    if answer.author_id == user.id:
        raise ValidationError(str(_l("不能给自己的回答标记有用。")))
    return toggle_useful_mark(session, user, answer)


# -- acceptance, closing -----------------------------------------------------


def can_manage(user: User, question: Question) -> bool:
    """Tell whether ``user`` may accept, close and reopen: the asker or an admin."""
    return user.is_admin or question.asker_id == user.id


def accept(session: Session, user: User, answer: Answer) -> None:
    """Accept ``answer``; an earlier accepted answer of the question loses it.

    Only the asker or an admin may accept, and never an answer the asker wrote,
    because an accepted answer is evidence of expertise for its author.
    """
    question = answer.question
    _lock_question(session, question, answer)
    if not can_manage(user, question):
        raise PermissionDenied(str(_l("只有提问人或管理员可以采纳回答。")))
    if answer.hidden:
        raise ValidationError(str(_l("已隐藏的回答不能被采纳。")))
    if answer.author_id == question.asker_id:
        raise ValidationError(str(_l("提问人自己的回答不能被采纳。")))
    if question.status == "closed":
        raise ValidationError(str(_l("问题已关闭，请先重新打开再采纳回答。")))
    if answer.accepted:
        return
    previous = question.accepted_answer
    if previous is not None:
        previous.accepted = False
        _drop_unread_acceptance(session, previous)
    answer.accepted = True
    now = utcnow()
    question.accepted_answer = answer
    question.accepted_at = now
    question.status = "answered"
    question.last_activity_at = now
    session.flush()
    if answer.author.active:
        notify(session, answer.author_id, "accepted", question, "answerer", answer)
    _reindex(session, question)
    session.flush()
    logger.info(
        "Answer %s accepted on question %s by user %s", answer.id, question.id, user.id
    )


def unaccept(session: Session, user: User, answer: Answer) -> None:
    """Withdraw the acceptance of ``answer``; the question is open again."""
    question = answer.question
    _lock_question(session, question, answer)
    if not can_manage(user, question):
        raise PermissionDenied(str(_l("只有提问人或管理员可以取消采纳。")))
    if not answer.accepted:
        return
    _clear_acceptance(question, answer)
    _drop_unread_acceptance(session, answer)
    session.flush()
    _reindex(session, question)


def _lock_question(session: Session, question: Question, answer: Answer) -> None:
    """Lock ``question`` and re-read it and ``answer`` before changing acceptance.

    Accepting, unaccepting, closing and reopening lock the question row first,
    so two of them at once cannot leave two accepted answers.
    """
    session.refresh(question, with_for_update=True)
    session.refresh(answer)


def _drop_unread_acceptance(session: Session, answer: Answer) -> None:
    """Withdraw the unread news that ``answer`` was accepted, now it is not."""
    session.execute(
        delete(Notification).where(
            Notification.answer_id == answer.id,
            Notification.event == "accepted",
            Notification.read_at.is_(None),
        )
    )


def _clear_acceptance(question: Question, answer: Answer) -> None:
    answer.accepted = False
    question.accepted_answer = None
    question.accepted_at = None
    if question.status == "answered":
        question.status = "open"


def close(session: Session, user: User, question: Question) -> None:
    """Close an open question without accepting an answer (asker or admin)."""
    if not can_manage(user, question):
        raise PermissionDenied(str(_l("只有提问人或管理员可以关闭问题。")))
    session.refresh(question, with_for_update=True)
    if question.status != "open":
        raise ValidationError(str(_l("只有待解答的问题可以关闭。")))
    question.status = "closed"
    question.last_activity_at = utcnow()
    session.flush()


def reopen(session: Session, user: User, question: Question) -> None:
    """Open a closed question again (asker or admin)."""
    if not can_manage(user, question):
        raise PermissionDenied(str(_l("只有提问人或管理员可以重新打开问题。")))
    session.refresh(question, with_for_update=True)
    if question.status != "closed":
        raise ValidationError(str(_l("只有已关闭的问题可以重新打开。")))
    question.status = "open"
    question.last_activity_at = utcnow()
    session.flush()


# -- moderation --------------------------------------------------------------


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not _visible_chars(reason):
        raise QuestionErrors({"reason": _l("请填写隐藏原因。")})
    if len(reason) > REASON_MAX:
        raise QuestionErrors(
            {"reason": _l("原因最长 %(max)s 个字符。", max=REASON_MAX)}
        )
    return reason


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise PermissionDenied(str(_l("只有管理员可以隐藏或恢复内容。")))


def hide_question(session: Session, admin: User, question: Question, reason: str):
    """Hide a question from everyone but admins, and from search."""
    _require_admin(admin)
    question.hidden_reason = _reason(reason)
    question.hidden = True
    question.hidden_by = admin
    question.hidden_at = utcnow()
    session.flush()
    _reindex(session, question)
    logger.info("Question %s hidden by admin %s", question.id, admin.id)


def unhide_question(session: Session, admin: User, question: Question) -> None:
    _require_admin(admin)
    question.hidden = False
    question.hidden_at = None
    session.flush()
    _reindex(session, question)


def hide_answer(session: Session, admin: User, answer: Answer, reason: str) -> None:
    """Hide an answer from everyone but admins; an accepted one loses acceptance."""
    _require_admin(admin)
    reason = _reason(reason)
    question = answer.question
    if not answer.hidden:
        question.answer_count = max((question.answer_count or 0) - 1, 0)
    if answer.accepted:
        _clear_acceptance(question, answer)
    answer.hidden = True
    answer.hidden_reason = reason
    answer.hidden_by = admin
    answer.hidden_at = utcnow()
    session.flush()
    _reindex(session, question)
    logger.info("Answer %s hidden by admin %s", answer.id, admin.id)


def unhide_answer(session: Session, admin: User, answer: Answer) -> None:
    _require_admin(admin)
    if answer.hidden:
        answer.question.answer_count = (answer.question.answer_count or 0) + 1
    answer.hidden = False
    answer.hidden_at = None
    session.flush()
    _reindex(session, answer.question)
