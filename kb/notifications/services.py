"""Following things, fanning new posts and replies out to inboxes, reading them.

Visibility is checked twice: when a notification is created (nobody hears of a
post they may not read) and when an inbox or digest is read (a post hidden or
narrowed since then drops out).
"""

import logging

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from kb.auth.models import Department, User
from kb.errors import NotFound, ValidationError
from kb.forum import access
from kb.forum.models import SIGNAL_TYPES, Post, Reply
from kb.notifications.models import DELIVERIES, TARGET_KINDS, Notification, Subscription
from kb.taxonomy.models import Industry
from kb.taxonomy.tags import normalize_tag, validate_tag
from kb.timeutil import utcnow

logger = logging.getLogger(__name__)

# When several subscriptions match, the strongest delivery wins.
_STRENGTH = {"immediate": 2, "daily": 1, "off": 0}


def normalize_target(session: Session, kind: str, target: str) -> str:
    """Check that ``target`` names something of ``kind``; return its stored form."""
    if kind not in TARGET_KINDS:
        raise ValidationError(
            str(_l("关注类型 %(value)s 无效。", value=repr(kind[:20]))), field="kind"
        )
    target = (target or "").strip()
    if kind == "industry":
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
        if not target.isdigit() or session.get(model, int(target)) is None:
            raise NotFound(str(_l("要关注的对象不存在。")))
    return target


def follow(
    session: Session, user: User, kind: str, target: str, delivery: str | None = None
) -> Subscription:
    """Follow ``target``; an existing subscription keeps its delivery unless given."""
    target = normalize_target(session, kind, target)
    if delivery is not None and delivery not in DELIVERIES:
        raise ValidationError(
            str(_l("提醒方式 %(value)s 无效。", value=repr(delivery[:20]))),
            field="delivery",
        )
    subscription = session.scalar(
        select(Subscription).where(
            Subscription.user_id == user.id,
            Subscription.kind == kind,
            Subscription.target == target,
        )
    )
    if subscription is None:
        subscription = Subscription(
            user_id=user.id, kind=kind, target=target, delivery=delivery or "immediate"
        )
        session.add(subscription)
    elif delivery is not None:
        subscription.delivery = delivery
    session.flush()
    return subscription


def unfollow(session: Session, user: User, kind: str, target: str) -> None:
    subscription = find_subscription(session, user, kind, target)
    if subscription is not None:
        session.delete(subscription)
        session.flush()


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
        select(Subscription.user_id, Subscription.delivery, Subscription.kind).where(
            or_(*conditions), Subscription.delivery != "off"
        )
    )
    for user_id, delivery, kind in rows:
        current = wanted.get(user_id)
        if current is None or _STRENGTH[delivery] > _STRENGTH[current[0]]:
            wanted[user_id] = (delivery, kind)
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
        extra = {user_id: ("immediate", "risk") for user_id in risk_staff}
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
    return (
        select(Notification)
        .join(Post, Post.id == Notification.post_id)
        .outerjoin(Reply, Reply.id == Notification.reply_id)
        .where(
            Notification.user_id == user.id,
            access.visible_posts(user),
            or_(
                Notification.reply_id.is_(None),
                Reply.hidden.is_(False) if not user.is_admin else True,
            ),
        )
    )


def unread_count(session: Session, user: User) -> int:
    query = _visible_notifications(user).where(Notification.read_at.is_(None))
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def inbox(session: Session, user: User, page: int, per_page: int):
    """One page of the visible notifications, newest first, and the total."""
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
