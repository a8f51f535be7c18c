"""Forum posts and replies: validation, writing, editing, marks, moderation, risk.

Services take a session and never commit; the caller commits once.
"""

import hashlib
import logging
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.articles.models import Article
from kb.articles.rendering import render_markdown
from kb.auth.models import Department, User
from kb.errors import NotFound, PermissionDenied, RateLimited, ValidationError
from kb.forum import access
from kb.forum.models import (
    RISK_STATUSES,
    SEVERITIES,
    SIGNAL_TYPES,
    VISIBILITIES,
    AnonymousReportSlot,
    Post,
    PostRevision,
    PostView,
    Reply,
    ReplyRevision,
    RiskStatusChange,
    UsefulMark,
)
from kb.questions.models import Answer
from kb.search import outbox
from kb.taxonomy.services import (
    industries_for_codes,
    tags_for_names,
    unknown_industry_codes,
)
from kb.taxonomy.tags import normalize_tag, validate_tag
from kb.timeutil import utcnow

logger = logging.getLogger(__name__)

# The UsefulMark column that refers to each kind of markable item.
_USEFUL_COLUMNS = {
    Post: UsefulMark.post_id,
    Reply: UsefulMark.reply_id,
    Article: UsefulMark.article_id,
    Answer: UsefulMark.answer_id,
}

TITLE_MAX = 200
MAX_TAGS = 20
NOTE_MAX = 2000
REASON_MAX = 500
# Receipt codes: 16 characters from an alphabet without look-alikes (0/O, 1/I/L),
# about 79 bits, shown in groups of four.
RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECEIPT_LENGTH = 16

SIGNAL_TYPE_LABELS = {
    "market": _l("市场动态"),
    "competitor": _l("竞争对手动向"),
    "policy": _l("政策解读"),
    "lead": _l("商机线索"),
    "risk": _l("客户风险信号"),
}
SEVERITY_LABELS = {"low": _l("低"), "medium": _l("中"), "high": _l("高")}
STATUS_LABELS = {"open": _l("待处理"), "handling": _l("处理中"), "closed": _l("已关闭")}
VISIBILITY_LABELS = {
    "all": _l("全行员工"),
    "department": _l("仅本部门"),
    "departments": _l("指定部门"),
}


class FormErrors(ValidationError):
    """Every invalid field at once; ``errors`` maps field name to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(str(next(iter(errors.values()))), field=next(iter(errors)))
        self.errors = errors


@dataclass
class PostInput:
    """Fields of a post as a person supplies them."""

    title: str
    body_md: str
    signal_type: str = "market"
    visibility: str = "all"
    audience_ids: list[int] = field(default_factory=list)
    industry_codes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    severity: str | None = None

    def __post_init__(self):
        self.body_md = unix_newlines(self.body_md)


def unix_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _visible_chars(text: str) -> str:
    return "".join(
        char
        for char in text
        if not char.isspace() and unicodedata.category(char) != "Cf"
    )


def _check_body(body: str, body_max: int, name: str = "body_md") -> dict[str, str]:
    if not _visible_chars(body):
        return {name: _l("正文不能为空。")}
    if len(body) > body_max:
        return {
            name: _l(
                "正文最长 %(max)s 个字符，当前 %(n)s 个，请删减后再提交。",
                max=f"{body_max:,}",
                n=f"{len(body):,}",
            )
        }
    return {}


def validate_post(
    session: Session, data: PostInput, body_max: int, anonymous: bool = False
) -> dict[str, str]:
    """Return a message per invalid field; empty when ``data`` can be saved."""
    errors: dict[str, str] = {}
    title = data.title.strip()
    if not _visible_chars(title):
        errors["title"] = _l("标题不能为空。")
    elif any(unicodedata.category(char) == "Cc" for char in title):
        errors["title"] = _l("标题含有控制字符，请删除后再提交。")
    elif any(unicodedata.category(char) == "Cf" for char in title):
        # Zero-width and bidirectional marks make titles look like others.
        errors["title"] = _l(
            "标题含有不可见的格式字符（如零宽字符、方向控制符），请删除。"
        )
    elif len(title) > TITLE_MAX:
        errors["title"] = _l(
            "标题最长 %(max)s 个字符，当前 %(n)s 个。", max=TITLE_MAX, n=len(title)
        )
    errors.update(_check_body(data.body_md, body_max))
    if data.signal_type not in SIGNAL_TYPES:
        errors["signal_type"] = _l(
            "信号类型 %(value)s 无效。", value=repr(str(data.signal_type)[:40])
        )
    if not anonymous:
        if data.visibility not in VISIBILITIES:
            errors["visibility"] = _l(
                "可见范围 %(value)s 无效。", value=repr(str(data.visibility)[:40])
            )
        elif data.visibility == "departments":
            if not data.audience_ids:
                errors["audience"] = _l("请至少选择一个可以查看的部门。")
            else:
                known = set(
                    session.scalars(
                        select(Department.id).where(
                            Department.id.in_(data.audience_ids)
                        )
                    )
                )
                missing = [str(i) for i in data.audience_ids if i not in known]
                if missing:
                    errors["audience"] = _l(
                        "未知的部门：%(ids)s。", ids="、".join(missing)
                    )
    if data.signal_type == "risk":
        if data.severity not in SEVERITIES:
            errors["severity"] = _l("请选择风险等级：低、中或高。")
    unknown = unknown_industry_codes(session, data.industry_codes)
    if unknown:
        errors["industries"] = _l(
            "未知的行业代码：%(codes)s。",
            codes="、".join(code[:20] for code in unknown[:10]),
        )
    if len(set(map(normalize_tag, data.tags))) > MAX_TAGS:
        errors["tags"] = _l("最多 %(max)s 个标签。", max=MAX_TAGS)
    for tag in data.tags:
        problem = validate_tag(normalize_tag(tag))
        if problem:
            errors["tags"] = problem
            break
    return errors


def _apply(session: Session, post: Post, data: PostInput, author: User | None) -> None:
    post.title = data.title.strip()
    post.body_md = data.body_md
    post.body_html = render_markdown(data.body_md)
    post.signal_type = data.signal_type
    post.industries = industries_for_codes(session, data.industry_codes)
    post.tags = tags_for_names(session, data.tags)
    if data.signal_type == "risk":
        post.severity = data.severity
        if post.status is None:
            post.status = "open"
    else:
        post.severity = None
    if post.anonymous:
        # Risk departments and admins only: no department of the reporter.
        post.visibility = "departments"
        post.audience = []
        return
    post.visibility = data.visibility
    if data.visibility == "all":
        post.audience = []
    elif data.visibility == "department":
        department_id = post.author_department_id or (author and author.department_id)
        post.audience = [session.get(Department, department_id)]
    else:
        post.audience = list(
            session.scalars(
                select(Department)
                .where(Department.id.in_(data.audience_ids))
                .order_by(Department.id)
            )
        )


def _fingerprint(post: Post) -> tuple:
    return (
        post.title,
        post.body_md,
        post.signal_type,
        post.visibility,
        post.severity,
        tuple(sorted(department.id for department in post.audience)),
        tuple(sorted(industry.code for industry in post.industries)),
        tuple(sorted(tag.name for tag in post.tags)),
    )


def _revision(post: Post, number: int, editor: User | None) -> PostRevision:
    return PostRevision(
        number=number,
        title=post.title,
        body_md=post.body_md,
        visibility=post.visibility,
        audience_ids=",".join(str(d.id) for d in post.audience),
        edited_by=editor,
    )


def create_post(session: Session, data: PostInput, author: User, body_max: int) -> Post:
    """Publish a post in ``author``'s name; raise FormErrors for bad input."""
    errors = validate_post(session, data, body_max)
    if errors:
        raise FormErrors(errors)
    now = utcnow()
    post = Post(
        author=author,
        author_department_id=author.department_id,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
    )
    _apply(session, post, data, author)
    post.revisions.append(_revision(post, 1, author))
    if post.is_risk:
        post.status_changes.append(
            RiskStatusChange(from_status=None, to_status="open", changed_by=author)
        )
    session.add(post)
    session.flush()
    from kb.notifications import services as notifications

    notifications.follow(session, author, "post", str(post.id))
    notifications.notify_new_post(session, post)
    logger.info("Created post %s", post.id)
    return post


def new_receipt_code() -> str:
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECEIPT_LENGTH, 4))


def receipt_digest(code: str) -> str:
    """Digest of a receipt code, read leniently: case, spaces and dashes ignored."""
    text = unicodedata.normalize("NFKC", code).upper()
    cleaned = "".join(char for char in text if char.isalnum())
    return hashlib.sha256(cleaned.encode()).hexdigest()


def _take_anonymous_slot(session: Session, per_hour: int) -> None:
    """Count one anonymous report against the bank-wide hourly limit.

    Only the hour and a count are stored, so the limit records nothing about
    the reporter. The increment is one conditional UPDATE, so concurrent
    reports neither fail on creating the hour's row nor slip past the limit.
    """
    now = utcnow()
    bucket = now.strftime("%Y-%m-%dT%H")
    if session.get(AnonymousReportSlot, bucket) is None:
        try:
            with session.begin_nested():
                session.add(AnonymousReportSlot(bucket=bucket, count=0))
        except IntegrityError:
            # Another request created the hour's row first.
            pass
    taken = session.execute(
        update(AnonymousReportSlot)
        .where(
            AnonymousReportSlot.bucket == bucket,
            AnonymousReportSlot.count < per_hour,
        )
        .values(count=AnonymousReportSlot.count + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 1:
        return
    next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    raise RateLimited(
        str(_l("本小时匿名报告已达上限，请稍后再提交，或署名提交。")),
        retry_after=max(1, int((next_hour - now).total_seconds())),
    )


def create_anonymous_report(
    session: Session, data: PostInput, body_max: int, per_hour: int
) -> tuple[Post, str]:
    """File a client risk signal with no author; return it and its receipt code.

    Nothing written here refers to the person filing: no author, no department,
    no editor on the revision or the status history, no log line with a name.
    """
    data.signal_type = "risk"
    errors = validate_post(session, data, body_max, anonymous=True)
    if errors:
        raise FormErrors(errors)
    _take_anonymous_slot(session, per_hour)
    code = new_receipt_code()
    now = utcnow()
    post = Post(
        anonymous=True,
        receipt_digest=receipt_digest(code),
        created_at=now,
        updated_at=now,
        last_activity_at=now,
    )
    _apply(session, post, data, None)
    post.revisions.append(_revision(post, 1, None))
    post.status_changes.append(RiskStatusChange(from_status=None, to_status="open"))
    session.add(post)
    session.flush()
    from kb.notifications import services as notifications

    notifications.notify_new_post(session, post)
    logger.info("Created anonymous risk report %s", post.id)
    return post, code


def post_for_receipt(session: Session, code: str) -> Post:
    """Return the report of a receipt code; raise NotFound otherwise."""
    post = session.scalar(
        select(Post).where(Post.receipt_digest == receipt_digest(code))
    )
    if post is None or post.hidden:
        raise NotFound(str(_l("没有与此回执码对应的报告，请核对后重试。")))
    return post


def update_post(
    session: Session, post: Post, data: PostInput, editor: User, body_max: int
) -> bool:
    """Save an edit as a new revision; return False when nothing changed."""
    # Lock the post, so simultaneous edits get consecutive revision numbers.
    session.refresh(post, with_for_update=True)
    if not access.can_edit_post(editor, post):
        raise PermissionDenied(str(_l("只有作者和管理员可以编辑此帖子。")))
    if post.is_risk:
        # A risk signal stays one; its type is not a field of the edit form.
        data.signal_type = "risk"
    errors = validate_post(session, data, body_max, anonymous=post.anonymous)
    if data.signal_type == "risk" and not post.is_risk:
        # Risk signals start their handling history and notify risk staff
        # when they are created, so a post cannot become one later.
        errors["signal_type"] = _l(
            "已发布的帖子不能改为客户风险信号，请另行发布一条客户风险信号。"
        )
    if errors:
        raise FormErrors(errors)
    before = _fingerprint(post)
    _apply(session, post, data, editor)
    if _fingerprint(post) == before:
        return False
    post.revision_count += 1
    post.updated_at = utcnow()
    # Every edit records its editor, also an admin editing an anonymous
    # report. Only the reporter's own first version has no editor.
    post.revisions.append(_revision(post, post.revision_count, editor))
    session.flush()
    # Replies carry the post's title, audience and facets in their entries.
    _reindex_replies(session, post)
    logger.info("Updated post %s to revision %s", post.id, post.revision_count)
    return True


def _reindex_replies(session: Session, post: Post) -> None:
    outbox.enqueue(session, "reply", [reply.id for reply in post.replies])


def add_reply(
    session: Session,
    post: Post,
    body_md: str,
    author: User | None,
    body_max: int,
    quote_of_id: int | None = None,
    from_reporter: bool = False,
) -> Reply:
    """Add a reply to ``post``; ``author`` is None for a receipt holder."""
    if author is not None and not access.can_view_post(author, post):
        raise NotFound(str(_l("帖子不存在。")))
    if post.hidden:
        if author is None:
            raise NotFound(str(_l("帖子不存在。")))
        # Only admins can still read a hidden post, so they get the reason.
        raise FormErrors({"body_md": _l("帖子已隐藏，恢复显示后才能回复。")})
    body_md = unix_newlines(body_md)
    errors = _check_body(body_md, body_max)
    quote = None
    if quote_of_id is not None:
        quote = session.get(Reply, quote_of_id)
        if quote is None or quote.post_id != post.id or quote.hidden:
            errors["quote_of"] = _l("引用的回复不存在或已被隐藏。")
    if errors:
        raise FormErrors(errors)
    now = utcnow()
    reply = Reply(
        post=post,
        author=author,
        from_reporter=from_reporter,
        quote_of=quote,
        body_md=body_md,
        body_html=render_markdown(body_md),
        created_at=now,
        updated_at=now,
    )
    reply.revisions.append(ReplyRevision(number=1, body_md=body_md, edited_by=author))
    session.add(reply)
    session.flush()
    _add_to_reply_count(session, post, 1, now)
    from kb.notifications import services as notifications

    if author is not None:
        notifications.follow(session, author, "post", str(post.id))
    notifications.notify_new_reply(session, reply)
    logger.info("Added reply %s to post %s", reply.id, post.id)
    return reply


def _add_to_reply_count(
    session: Session, post: Post, delta: int, activity_at=None
) -> None:
    """Change ``post.reply_count`` in one UPDATE, so simultaneous changes add up."""
    values = {"reply_count": Post.reply_count + delta}
    if activity_at is not None:
        values["last_activity_at"] = activity_at
    session.execute(
        update(Post)
        .where(Post.id == post.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(post, ["reply_count", "last_activity_at"])


def update_reply(
    session: Session, reply: Reply, body_md: str, editor: User, body_max: int
) -> bool:
    # Lock the reply, so simultaneous edits get consecutive revision numbers.
    session.refresh(reply, with_for_update=True)
    if not access.can_edit_reply(editor, reply):
        raise PermissionDenied(str(_l("只有作者和管理员可以编辑此回复。")))
    body_md = unix_newlines(body_md)
    errors = _check_body(body_md, body_max)
    if errors:
        raise FormErrors(errors)
    if body_md == reply.body_md:
        return False
    reply.body_md = body_md
    reply.body_html = render_markdown(body_md)
    reply.revision_count += 1
    reply.updated_at = utcnow()
    reply.revisions.append(
        ReplyRevision(
            number=reply.revision_count,
            body_md=body_md,
            edited_by=editor,
        )
    )
    session.flush()
    return True


def toggle_useful(
    session: Session, user: User, post: Post | None = None, reply: Reply | None = None
) -> bool:
    """Mark or unmark a post or a reply as useful; return the new state."""
    target = post if post is not None else reply
    if target is None:
        raise ValueError("post or reply is required")
    return toggle_useful_mark(session, user, target)


def toggle_useful_mark(session: Session, user: User, target) -> bool:
    """Mark or unmark a post, reply, brief or answer as useful; return the new state.

    Each person has at most one mark per item (a unique constraint), and the
    item's ``useful_count`` counts the marks.
    """
    model = type(target)
    column = _USEFUL_COLUMNS[model]
    mark_id = session.scalar(
        select(UsefulMark.id).where(UsefulMark.user_id == user.id, column == target.id)
    )
    if mark_id is None:
        try:
            with session.begin_nested():
                session.add(UsefulMark(user_id=user.id, **{column.key: target.id}))
        except IntegrityError:
            # A simultaneous request by the same person added the mark and count.
            return True
        delta = 1
    else:
        removed = session.execute(delete(UsefulMark).where(UsefulMark.id == mark_id))
        if removed.rowcount == 0:
            # A simultaneous request by the same person removed the mark and count.
            return False
        delta = -1
    session.execute(
        update(model)
        .where(model.id == target.id)
        .values(useful_count=model.useful_count + delta)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    session.refresh(target, ["useful_count"])
    return delta == 1


def useful_marks(session: Session, user: User, post: Post) -> tuple[bool, set[int]]:
    """Return whether ``user`` marked the post, and which of its replies."""
    marked_post = (
        session.scalar(
            select(UsefulMark.id).where(
                UsefulMark.user_id == user.id, UsefulMark.post_id == post.id
            )
        )
        is not None
    )
    reply_ids = set(
        session.scalars(
            select(UsefulMark.reply_id)
            .join(Reply, Reply.id == UsefulMark.reply_id)
            .where(UsefulMark.user_id == user.id, Reply.post_id == post.id)
        )
    )
    return marked_post, reply_ids


def record_view(session: Session, user: User, post: Post) -> None:
    """Count a reader once per post; the author's own views do not count.

    Views of an anonymous report are counted without recording the reader, so a
    reporter reading their own report leaves no trace.
    """
    if post.author_id == user.id:
        return
    if not post.anonymous:
        seen = session.get(PostView, (post.id, user.id))
        if seen is not None:
            return
        try:
            with session.begin_nested():
                session.add(PostView(post_id=post.id, user_id=user.id))
        except IntegrityError:
            # The same reader's simultaneous request counted this view.
            return
    session.execute(
        update(Post)
        .where(Post.id == post.id)
        .values(view_count=Post.view_count + 1)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not _visible_chars(reason):
        raise FormErrors({"reason": _l("请填写隐藏原因。")})
    if len(reason) > REASON_MAX:
        raise FormErrors({"reason": _l("原因最长 %(max)s 个字符。", max=REASON_MAX)})
    return reason


def hide_post(session: Session, post: Post, admin: User, reason: str) -> None:
    if not access.can_moderate(admin):
        raise PermissionDenied(str(_l("只有管理员可以隐藏内容。")))
    post.hidden_reason = _reason(reason)
    post.hidden = True
    post.hidden_by = admin
    post.hidden_at = utcnow()
    session.flush()
    _reindex_replies(session, post)
    logger.info("Post %s hidden by admin %s", post.id, admin.id)


def unhide_post(session: Session, post: Post, admin: User) -> None:
    if not access.can_moderate(admin):
        raise PermissionDenied(str(_l("只有管理员可以恢复内容。")))
    post.hidden = False
    post.hidden_at = None
    session.flush()
    _reindex_replies(session, post)


def hide_reply(session: Session, reply: Reply, admin: User, reason: str) -> None:
    if not access.can_moderate(admin):
        raise PermissionDenied(str(_l("只有管理员可以隐藏内容。")))
    reason = _reason(reason)
    # Lock the reply, so two admins hiding it at once count it out once.
    session.refresh(reply, with_for_update=True)
    if not reply.hidden:
        _add_to_reply_count(session, reply.post, -1)
    reply.hidden = True
    reply.hidden_reason = reason
    reply.hidden_by = admin
    reply.hidden_at = utcnow()
    session.flush()
    logger.info("Reply %s hidden by admin %s", reply.id, admin.id)


def unhide_reply(session: Session, reply: Reply, admin: User) -> None:
    if not access.can_moderate(admin):
        raise PermissionDenied(str(_l("只有管理员可以恢复内容。")))
    session.refresh(reply, with_for_update=True)
    if reply.hidden:
        _add_to_reply_count(session, reply.post, 1)
    reply.hidden = False
    reply.hidden_at = None
    session.flush()


def change_status(
    session: Session, post: Post, user: User, new_status: str, note: str
) -> RiskStatusChange:
    """Move a risk signal to ``new_status``; closing needs an outcome note."""
    if not access.can_handle_risk(user, post):
        raise PermissionDenied(
            str(_l("只有风险管理部门的员工和管理员可以处理风险信号。"))
        )
    # Lock the post and read its current status: a handler who acted at the
    # same moment may have changed it.
    session.refresh(post, with_for_update=True)
    if new_status not in RISK_STATUSES:
        raise FormErrors(
            {"status": _l("状态 %(value)s 无效。", value=repr(new_status[:20]))}
        )
    note = unix_newlines(note).strip()
    if len(note) > NOTE_MAX:
        raise FormErrors({"note": _l("说明最长 %(max)s 个字符。", max=NOTE_MAX)})
    if new_status == post.status:
        raise FormErrors({"status": _l("状态没有变化。")})
    if new_status == "closed" and not _visible_chars(note):
        raise FormErrors({"note": _l("关闭风险信号时请填写处理结果。")})
    change = RiskStatusChange(
        from_status=post.status, to_status=new_status, note=note, changed_by=user
    )
    post.status_changes.append(change)
    post.status = new_status
    if new_status == "closed":
        post.outcome_note = note
        post.closed_by = user
        post.closed_at = utcnow()
    else:
        post.outcome_note = ""
        post.closed_by = None
        post.closed_at = None
    post.last_activity_at = utcnow()
    session.flush()
    logger.info("Risk signal %s moved to %s", post.id, new_status)
    return change


def get_visible_post(session: Session, user: User, post_id: int) -> Post:
    """Return the post if ``user`` may see it; raise NotFound otherwise."""
    post = session.get(Post, post_id)
    if post is None or not access.can_view_post(user, post):
        raise NotFound(str(_l("帖子不存在。")))
    return post


def get_visible_reply(session: Session, user: User, reply_id: int) -> Reply:
    reply = session.get(Reply, reply_id)
    if reply is None or not access.can_view_reply(user, reply):
        raise NotFound(str(_l("回复不存在。")))
    return reply
