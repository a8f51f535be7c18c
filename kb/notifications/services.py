"""Following things, fanning new posts and replies out to inboxes, reading them.

Visibility is checked twice: when a notification is created (nobody hears of a
post they may not read) and when an inbox or digest is read (a post hidden or
narrowed since then drops out). Notifications about questions to experts
(``kb.questions``) share the inbox; a hidden question or answer drops out of
it for everyone but admins.
"""

import logging
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.auth.models import Department, User
from kb.errors import NotFound, ValidationError
from kb.forum import access
from kb.forum.models import SIGNAL_TYPES, Post, Reply
from kb.forum.services import SIGNAL_TYPE_LABELS
from kb.notifications.models import DELIVERIES, TARGET_KINDS, Notification, Subscription
from kb.questions.models import Answer, Question
from kb.taxonomy.models import Industry
from kb.taxonomy.tags import normalize_tag, validate_tag
from kb.timeutil import utcnow
from kb.web import MAX_RECORD_ID

logger = logging.getLogger(__name__)

# When several subscriptions match, the strongest delivery wins.
_STRENGTH = {"immediate": 2, "daily": 1, "off": 0}

KIND_LABELS = {
    "industry": _l("行业"),
    "tag": _l("标签"),
    "type": _l("信号类型"),
    "user": _l("人员"),
    "post": _l("帖子"),
}
DELIVERY_LABELS = {
    "immediate": _l("即时"),
    "daily": _l("每日摘要"),
    "off": _l("关闭"),
}
EVENT_LABELS = {
    "post": _l("新帖子"),
    "reply": _l("新回复"),
    "question": _l("请您回答"),
    "escalated": _l("问题转给您"),
    "answer": _l("新回答"),
    "accepted": _l("回答被采纳"),
    "stalled": _l("问题无人可答"),
}
# Events of notifications about questions, which carry ``question_id``.
QUESTION_EVENTS = frozenset({"question", "escalated", "answer", "accepted", "stalled"})

# Labels of ``Notification.reason``, keyed by the kind of the matching subscription.
# ``Notification.reason`` is "<kind>:<target>", or "risk" for a risk signal sent
# to the staff who handle risk signals.
_REASON_LABELS = {
    "industry": _l("关注的行业：%(name)s"),
    "tag": _l("关注的标签：%(name)s"),
    "type": _l("关注的信号类型：%(name)s"),
    "user": _l("关注的人：%(name)s"),
}

# Labels of the reasons of question notifications: "<kind>:<topic>" where the
# topic names the question's industries and skills (kb.questions.services).
_QUESTION_REASON_LABELS = {
    "chosen": _l("提问人指定请您回答：%(topic)s"),
    "evidence": _l("您在这一领域有专长证据：%(topic)s"),
    "declared": _l("您声明的专长：%(topic)s"),
    "asker": _l("您提出的问题有新回答"),
    "answerer": _l("您的回答被采纳"),
    "stalled": _l("已请过所有相关专家仍无人回答，请协助找人：%(topic)s"),
}


def _check_kind(kind: str) -> None:
    if kind not in TARGET_KINDS:
        raise ValidationError(
            str(_l("关注类型 %(value)s 无效。", value=repr(kind[:20]))), field="kind"
        )


def _check_delivery(delivery: str) -> None:
    if delivery not in DELIVERIES:
        raise ValidationError(
            str(_l("提醒方式 %(value)s 无效。", value=repr(delivery[:20]))),
            field="delivery",
        )


def normalize_target(session: Session, kind: str, target: str) -> str:
    """Check that ``target`` names something of ``kind``; return its stored form."""
    _check_kind(kind)
    target = (target or "").strip()
    if not target and kind != "tag":
        raise ValidationError(
            str(_l("请填写要关注的%(kind)s。", kind=KIND_LABELS[kind])),
            field="target",
        )
    if kind == "industry":
        target = target.upper()
        if session.get(Industry, target) is None:
            raise ValidationError(
                str(_l("未知的行业代码：%(codes)s。", codes=target[:20])),
                field="target",
            )
    elif kind == "tag":
        target = normalize_tag(target)
        problem = validate_tag(target)
        if problem:
            raise ValidationError(str(problem), field="target")
    elif kind == "type":
        if target not in SIGNAL_TYPES:
            raise ValidationError(
                str(_l("信号类型 %(value)s 无效。", value=repr(target[:20]))),
                field="target",
            )
    else:
        model = User if kind == "user" else Post
        record_id = _record_id(target)
        if record_id is None or session.get(model, record_id) is None:
            raise NotFound(str(_l("要关注的对象不存在。")))
        target = str(record_id)
    return target


def _record_id(text: str) -> int | None:
    """Parse a database id written in ASCII digits; None if it is not one.

    ``str.isdigit`` alone accepts digits such as "²" that ``int`` rejects, and a
    number above the integer column's range would fail in the database driver.
    """
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= MAX_RECORD_ID else None


def follow(
    session: Session, user: User, kind: str, target: str, delivery: str | None = None
) -> Subscription:
    """Follow ``target``; an existing subscription keeps its delivery unless given.

    Raises ValidationError for an unknown kind, industry, signal type or delivery
    and for an invalid tag. Raises NotFound for a post ``user`` may not see and
    for a person who does not exist or is deactivated, so following never
    confirms that a hidden post exists.
    """
    target = normalize_target(session, kind, target)
    _check_followable(session, user, kind, target)
    if delivery is not None:
        _check_delivery(delivery)
    subscription = session.scalar(
        select(Subscription).where(
            Subscription.user_id == user.id,
            Subscription.kind == kind,
            Subscription.target == target,
        )
    )
    if subscription is None:
        try:
            with session.begin_nested():
                subscription = Subscription(
                    user_id=user.id,
                    kind=kind,
                    target=target,
                    delivery=delivery or "immediate",
                )
                session.add(subscription)
            return subscription
        except IntegrityError:
            # The same person's simultaneous request subscribed first.
            subscription = find_subscription(session, user, kind, target)
    if delivery is not None:
        subscription.delivery = delivery
    session.flush()
    return subscription


def _check_followable(session: Session, user: User, kind: str, target: str) -> None:
    if kind == "post":
        post = session.get(Post, int(target))
        if not access.can_view_post(user, post):
            raise NotFound(str(_l("要关注的对象不存在。")))
    elif kind == "user":
        person = session.get(User, int(target))
        if not person.active:
            raise NotFound(str(_l("要关注的对象不存在。")))


def unfollow(
    session: Session, user: User, kind: str, target: str
) -> Subscription | None:
    """Stop following ``target``; return the removed subscription, None if none.

    The target need not exist any more, so a follow of a deleted post or a
    deactivated person can still be removed.
    """
    _check_kind(kind)
    target = (target or "").strip()
    if kind == "tag":
        target = normalize_tag(target)
    subscription = find_subscription(session, user, kind, target)
    if subscription is None:
        return None
    # A DELETE statement, because a simultaneous unfollow may have removed the
    # row already, and session.delete() would then warn that no row was deleted.
    removed = session.execute(
        delete(Subscription)
        .where(Subscription.id == subscription.id)
        .execution_options(synchronize_session=False)
    )
    session.expunge(subscription)
    return subscription if removed.rowcount else None


def find_subscription(
    session: Session, user: User, kind: str, target: str
) -> Subscription | None:
    return session.scalar(
        select(Subscription).where(
            Subscription.user_id == user.id,
            Subscription.kind == kind,
            Subscription.target == str(target),
        )
    )


def _post_targets(post: Post) -> list:
    """Conditions on Subscription matching a new post."""
    codes = {
        code
        for industry in post.industries
        for code in (industry.code, industry.section_code)
        if code
    }
    conditions = [
        and_(Subscription.kind == "type", Subscription.target == post.signal_type)
    ]
    if codes:
        conditions.append(
            and_(Subscription.kind == "industry", Subscription.target.in_(codes))
        )
    if post.tags:
        conditions.append(
            and_(
                Subscription.kind == "tag",
                Subscription.target.in_([tag.name for tag in post.tags]),
            )
        )
    # Following a person never reveals an anonymous report: it has no author.
    if post.author_id is not None:
        conditions.append(
            and_(
                Subscription.kind == "user", Subscription.target == str(post.author_id)
            )
        )
    return conditions


def _deliver(
    session: Session,
    post: Post,
    reply: Reply | None,
    conditions: list,
    exclude_user_id: int | None,
    extra: dict[int, tuple[str, str]] | None = None,
) -> int:
    """Create one notification per matching subscriber who may read the post."""
    wanted: dict[int, tuple[str, str]] = dict(extra or {})
    rows = session.execute(
        select(
            Subscription.user_id,
            Subscription.delivery,
            Subscription.kind,
            Subscription.target,
        )
        .where(or_(*conditions), Subscription.delivery != "off")
        .order_by(Subscription.id)
    )
    for user_id, delivery, kind, target in rows:
        current = wanted.get(user_id)
        if current is None or _STRENGTH[delivery] > _STRENGTH[current[0]]:
            wanted[user_id] = (delivery, f"{kind}:{target}")
    wanted.pop(exclude_user_id, None)
    if not wanted:
        return 0
    users = session.scalars(select(User).where(User.id.in_(wanted), User.active))
    created = 0
    for user in users:
        if not access.can_view_post(user, post):
            continue
        if reply is not None and not access.can_view_reply(user, reply):
            continue
        delivery, reason = wanted[user.id]
        session.add(
            Notification(
                user_id=user.id,
                event="reply" if reply is not None else "post",
                post_id=post.id,
                reply_id=reply.id if reply is not None else None,
                reason=reason,
                delivery=delivery,
            )
        )
        created += 1
    session.flush()
    return created


def notify_new_post(session: Session, post: Post) -> int:
    """Tell followers of the post's type, industries, tags and author."""
    extra = {}
    if post.is_risk:
        # Early warnings must reach the people who act on them.
        risk_staff = session.scalars(
            select(User.id)
            .join(Department, User.department_id == Department.id)
            .where(Department.handles_risk, User.active)
        )
        # A risk-staff member's own subscription to the risk type sets how
        # they hear of it, "off" included; without one they hear at once.
        chosen = dict(
            session.execute(
                select(Subscription.user_id, Subscription.delivery).where(
                    Subscription.kind == "type", Subscription.target == "risk"
                )
            ).all()
        )
        extra = {
            user_id: (chosen.get(user_id, "immediate"), "risk")
            for user_id in risk_staff
            if chosen.get(user_id) != "off"
        }
    return _deliver(session, post, None, _post_targets(post), post.author_id, extra)


def notify_new_reply(session: Session, reply: Reply) -> int:
    """Tell the followers of the post and of the reply's author."""
    conditions = [
        and_(Subscription.kind == "post", Subscription.target == str(reply.post_id))
    ]
    if reply.author_id is not None:
        conditions.append(
            and_(
                Subscription.kind == "user", Subscription.target == str(reply.author_id)
            )
        )
    return _deliver(session, reply.post, reply, conditions, reply.author_id)


def _visible_notifications(user: User):
    post_visible = and_(
        Notification.post_id.is_not(None),
        access.visible_posts(user),
        or_(
            Notification.reply_id.is_(None),
            Reply.hidden.is_(False) if not user.is_admin else True,
        ),
    )
    question_visible = Notification.question_id.is_not(None)
    if not user.is_admin:
        question_visible = and_(
            question_visible,
            Question.hidden.is_(False),
            or_(Notification.answer_id.is_(None), Answer.hidden.is_(False)),
        )
    return (
        select(Notification)
        .outerjoin(Post, Post.id == Notification.post_id)
        .outerjoin(Reply, Reply.id == Notification.reply_id)
        .outerjoin(Question, Question.id == Notification.question_id)
        .outerjoin(Answer, Answer.id == Notification.answer_id)
        .where(
            Notification.user_id == user.id,
            or_(post_visible, question_visible),
        )
    )


def unread_count(session: Session, user: User) -> int:
    query = _visible_notifications(user).where(Notification.read_at.is_(None))
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def inbox(session: Session, user: User, page: int, per_page: int):
    """Return one page of the visible notifications, newest first, and the total."""
    query = _visible_notifications(user)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(Notification.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return items, total


def mark_read(session: Session, user: User, ids: list[int] | None = None) -> int:
    """Mark the given notifications, or all, as read; return how many changed."""
    statement = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if ids is not None:
        statement = statement.where(Notification.id.in_(ids))
    result = session.execute(
        statement.values(read_at=utcnow()).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def describe_target(session: Session, viewer: User, kind: str, target: str) -> str:
    """Name what a subscription of ``viewer`` follows, for display.

    A post ``viewer`` may not see is shown as "不可见的帖子", without its title.
    """
    if kind == "industry":
        industry = session.get(Industry, target)
        return industry.label if industry is not None else target
    if kind == "type":
        return str(SIGNAL_TYPE_LABELS.get(target, target))
    if kind == "user":
        record_id = _record_id(target)
        person = session.get(User, record_id) if record_id else None
        return person.display_name if person is not None else str(_l("已删除的用户"))
    if kind == "post":
        record_id = _record_id(target)
        post = session.get(Post, record_id) if record_id else None
        if post is None or not access.can_view_post(viewer, post):
            return str(_l("不可见的帖子"))
        return post.title
    return target


def describe_reason(session: Session, viewer: User, reason: str) -> str:
    """Say why ``viewer`` got a notification, from ``Notification.reason``."""
    kind, _separator, target = reason.partition(":")
    if kind in _QUESTION_REASON_LABELS:
        return str(_QUESTION_REASON_LABELS[kind] % {"topic": target})
    if kind == "risk":
        return str(_l("风险信号待处理"))
    if kind == "post":
        return str(_l("关注的帖子"))
    if kind in _REASON_LABELS and target:
        name = describe_target(session, viewer, kind, target)
        return str(_REASON_LABELS[kind] % {"name": name})
    if kind in KIND_LABELS:
        return str(_l("关注的%(kind)s", kind=KIND_LABELS[kind]))
    return ""


@dataclass
class InboxEntry:
    """A notification with what it is about, ready to show.

    ``post`` (with ``reply``) is set for forum notifications, ``question``
    (with ``answer``) for notifications about questions to experts.
    """

    notification: Notification
    post: Post | None
    reply: Reply | None
    reason: str
    question: Question | None = None
    answer: Answer | None = None

    @property
    def title(self) -> str:
        return self.post.title if self.post is not None else self.question.title


def inbox_entries(
    session: Session, user: User, page: int, per_page: int
) -> tuple[list[InboxEntry], int]:
    """Return one page of ``inbox`` with posts, replies and reasons, and the total."""
    items, total = inbox(session, user, page, per_page)
    posts = _by_id(session, Post, {item.post_id for item in items})
    replies = _by_id(session, Reply, {item.reply_id for item in items})
    questions = _by_id(session, Question, {item.question_id for item in items})
    answers = _by_id(session, Answer, {item.answer_id for item in items})
    entries = [
        InboxEntry(
            notification=item,
            post=posts.get(item.post_id),
            reply=replies.get(item.reply_id),
            reason=describe_reason(session, user, item.reason),
            question=questions.get(item.question_id),
            answer=answers.get(item.answer_id),
        )
        for item in items
    ]
    return entries, total


def _by_id(session: Session, model, ids: set[int | None]) -> dict:
    """Load the rows of ``model`` with the given ids (None ignored) by id."""
    wanted = {record_id for record_id in ids if record_id is not None}
    if not wanted:
        return {}
    return {
        row.id: row
        for row in session.scalars(select(model).where(model.id.in_(wanted)))
    }


def get_notification(
    session: Session, user: User, notification_id: int
) -> Notification:
    """Return ``user``'s notification while its post and reply are visible to them.

    Raises NotFound for someone else's notification too, so ids reveal nothing.
    """
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound(str(_l("消息不存在。")))
    if notification.question_id is not None:
        _check_question_visible(session, user, notification)
        return notification
    post = session.get(Post, notification.post_id)
    if post is None or not access.can_view_post(user, post):
        raise NotFound(str(_l("消息不存在。")))
    if notification.reply_id is not None:
        reply = session.get(Reply, notification.reply_id)
        if reply is None or not access.can_view_reply(user, reply):
            raise NotFound(str(_l("消息不存在。")))
    return notification


def _check_question_visible(
    session: Session, user: User, notification: Notification
) -> None:
    """Raise NotFound when the question or answer is hidden from ``user``."""
    question = session.get(Question, notification.question_id)
    if question is None or (question.hidden and not user.is_admin):
        raise NotFound(str(_l("消息不存在。")))
    if notification.answer_id is not None:
        answer = session.get(Answer, notification.answer_id)
        if answer is None or (answer.hidden and not user.is_admin):
            raise NotFound(str(_l("消息不存在。")))


_KIND_ORDER = {kind: number for number, kind in enumerate(TARGET_KINDS)}


def list_subscriptions(session: Session, user: User) -> list[tuple[Subscription, str]]:
    """Return every subscription of ``user`` with a label for what it follows.

    Ordered by kind (industry, tag, type, person, post), then oldest first.
    """
    subscriptions = session.scalars(
        select(Subscription)
        .where(Subscription.user_id == user.id)
        .order_by(Subscription.id)
    ).all()
    ordered = sorted(subscriptions, key=lambda item: _KIND_ORDER.get(item.kind, 99))
    return [
        (item, describe_target(session, user, item.kind, item.target))
        for item in ordered
    ]


def get_subscription(
    session: Session, user: User, subscription_id: int
) -> Subscription:
    """Return ``user``'s subscription; NotFound for a missing or foreign id."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or subscription.user_id != user.id:
        raise NotFound(str(_l("关注不存在。")))
    return subscription


def set_delivery(session: Session, subscription: Subscription, delivery: str) -> None:
    """Change how a subscription is delivered; ValidationError names a bad value."""
    _check_delivery(delivery)
    subscription.delivery = delivery
    session.flush()


def remove_subscription(session: Session, subscription: Subscription) -> None:
    session.delete(subscription)
    session.flush()
