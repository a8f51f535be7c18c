"""The daily e-mail digest: one message per person with their "daily" notifications.

``kb digest send`` runs it, usually from cron once a day. A person's
notifications are stamped ``digested_at`` only after the SMTP server accepted
that person's message, and the stamp is committed at once. So a failure midway
loses nothing, and a second run does not send the same notification again.
"""

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from itertools import groupby

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kb.articles.rendering import html_to_text
from kb.auth.models import User
from kb.forum import access
from kb.forum.models import Post, Reply
from kb.forum.services import SEVERITY_LABELS, SIGNAL_TYPE_LABELS
from kb.i18n import local_datetime
from kb.notifications.models import Notification
from kb.notifications.services import EVENT_LABELS, describe_reason
from kb.questions.models import Answer, Question
from kb.timeutil import to_local, utcnow

logger = logging.getLogger(__name__)

# Characters of a reply's plain text quoted in the digest.
REPLY_EXCERPT_CHARS = 120
DIGEST_LOCALE = "zh_CN"


class DigestError(Exception):
    """Raised when no digest can be sent: SMTP is not configured or unreachable."""


@dataclass
class DigestItem:
    """A notification with its post and reply, or its question and answer."""

    notification: Notification
    post: Post | None
    reply: Reply | None
    question: Question | None = None
    answer: Answer | None = None


@dataclass
class Digest:
    """The pending daily notifications of one person, oldest first."""

    user: User
    items: list[DigestItem]


@dataclass
class DigestSummary:
    """Summary of a run: what it sent, or in a dry run would send.

    ``mailed`` contains (user id, username, notification count) per message.
    """

    dry_run: bool = False
    mailed: list[tuple[int, str, int]] = field(default_factory=list)
    failed_user_ids: list[int] = field(default_factory=list)

    @property
    def users_mailed(self) -> int:
        return len(self.mailed)

    @property
    def notifications_included(self) -> int:
        return sum(count for _user_id, _username, count in self.mailed)


def collect(session: Session) -> list[Digest]:
    """Return the pending daily notifications per active user who has an address.

    A notification whose post or reply the user may no longer see is left out
    and stays pending, so it is mailed if the post becomes visible again. The
    same holds for a hidden question or answer, which only admins may see.
    """
    rows = session.execute(
        select(Notification, User)
        .join(User, User.id == Notification.user_id)
        .where(
            Notification.delivery == "daily",
            Notification.digested_at.is_(None),
            User.active,
            User.email != "",
        )
        .order_by(User.id, Notification.id)
    ).all()
    posts = _load(
        session,
        Post,
        {notification.post_id for notification, _ in rows if notification.post_id},
    )
    replies = _load(
        session,
        Reply,
        {notification.reply_id for notification, _ in rows if notification.reply_id},
    )
    questions = _load(
        session,
        Question,
        {n.question_id for n, _ in rows if n.question_id is not None},
    )
    answers = _load(
        session, Answer, {n.answer_id for n, _ in rows if n.answer_id is not None}
    )
    digests = []
    for user, group in groupby(rows, key=lambda row: row[1]):
        items = []
        for notification, _user in group:
            if notification.question_id is not None:
                item = _question_item(notification, user, questions, answers)
                if item is not None:
                    items.append(item)
                continue
            post = posts.get(notification.post_id)
            reply = replies.get(notification.reply_id)
            if post is None or not access.can_view_post(user, post):
                continue
            if notification.reply_id is not None and (
                reply is None or not access.can_view_reply(user, reply)
            ):
                continue
            items.append(DigestItem(notification, post, reply))
        if items:
            digests.append(Digest(user, items))
    return digests


def _question_item(
    notification: Notification, user: User, questions: dict, answers: dict
) -> DigestItem | None:
    """Return a question notification's digest item; None if hidden from ``user``."""
    question = questions.get(notification.question_id)
    if question is None or (question.hidden and not user.is_admin):
        return None
    answer = None
    if notification.answer_id is not None:
        answer = answers.get(notification.answer_id)
        if answer is None or (answer.hidden and not user.is_admin):
            return None
    return DigestItem(notification, None, None, question, answer)


def _load(session: Session, model, ids: set[int]) -> dict:
    if not ids:
        return {}
    return {
        row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))
    }


def _site_url(endpoint: str, anchor: str | None = None, **values) -> str:
    """Build an absolute link from KB_BASE_URL, outside any request."""
    adapter = current_app.url_map.bind("localhost")
    path = adapter.build(endpoint, values)
    base = current_app.config["KB_BASE_URL"].rstrip("/")
    return f"{base}{path}" + (f"#{anchor}" if anchor else "")


def _excerpt(item: Reply | Answer) -> str:
    text = " ".join(html_to_text(item.body_html).split())
    if len(text) <= REPLY_EXCERPT_CHARS:
        return text
    return text[:REPLY_EXCERPT_CHARS].rstrip() + "…"


def _author_label(item: DigestItem) -> str:
    """Name the author of the post or reply; anonymous ones get a fixed label."""
    if item.reply is not None:
        if item.reply.author is None:
            return _("匿名报告")
        return item.reply.author.display_name
    if item.post.anonymous or item.post.author is None:
        return _("匿名报告")
    return item.post.author.display_name


def _question_context(session: Session, user: User, item: DigestItem) -> dict:
    question = item.question
    anchor = f"answer-{item.answer.id}" if item.answer is not None else None
    author = item.answer.author if item.answer is not None else question.asker
    return {
        "event": str(EVENT_LABELS.get(item.notification.event, "")),
        "title": question.title,
        "signal_type": _("问答"),
        "severity": "",
        "author": author.display_name,
        "reason": describe_reason(session, user, item.notification.reason),
        "time": local_datetime(item.notification.created_at),
        "url": _site_url("questions.show", anchor=anchor, question_id=question.id),
        "excerpt": _excerpt(item.answer) if item.answer is not None else "",
        "excerpt_label": _("回答"),
    }


def _item_context(session: Session, user: User, item: DigestItem) -> dict:
    if item.question is not None:
        return _question_context(session, user, item)
    post = item.post
    anchor = f"reply-{item.reply.id}" if item.reply is not None else None
    return {
        "event": str(EVENT_LABELS.get(item.notification.event, "")),
        "title": post.title,
        "signal_type": str(SIGNAL_TYPE_LABELS.get(post.signal_type, post.signal_type)),
        "severity": str(SEVERITY_LABELS[post.severity]) if post.severity else "",
        "author": _author_label(item),
        "reason": describe_reason(session, user, item.notification.reason),
        "time": local_datetime(item.notification.created_at),
        "url": _site_url("forum.show", anchor=anchor, post_id=post.id),
        "excerpt": _excerpt(item.reply) if item.reply is not None else "",
        "excerpt_label": _("回复"),
    }


def build_message(session: Session, digest: Digest, day: date) -> EmailMessage:
    """Write one person's digest as plain text and HTML, in Chinese.

    The templates are rendered straight from the Jinja environment, without the
    request context processors, because no request or signed-in user exists here.
    """
    config = current_app.config
    environment = current_app.jinja_env
    with force_locale(DIGEST_LOCALE):
        context = {
            "user": digest.user,
            "items": [
                _item_context(session, digest.user, item) for item in digest.items
            ],
            "day": day.isoformat(),
            "inbox_url": _site_url("notifications.inbox"),
            "subscriptions_url": _site_url("notifications.subscriptions"),
        }
        subject = _(
            "行业知识库每日摘要：%(n)s 条新动态（%(date)s）",
            n=len(digest.items),
            date=day.isoformat(),
        )
        text = environment.get_template("email/digest.txt").render(context)
        html = environment.get_template("email/digest.html").render(context)
    sender = config["KB_MAIL_FROM"]
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = digest.user.email
    message["Date"] = format_datetime(to_local(utcnow()))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(text, cte="base64")
    message.add_alternative(html, subtype="html", cte="base64")
    return message


def _connect(config) -> smtplib.SMTP:
    host = config["KB_SMTP_HOST"]
    port = config["KB_SMTP_PORT"]
    timeout = config["KB_SMTP_TIMEOUT"]
    context = ssl.create_default_context()
    if config["KB_SMTP_SSL"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if config["KB_SMTP_STARTTLS"] and not config["KB_SMTP_SSL"]:
            smtp.starttls(context=context)
        if config["KB_SMTP_USERNAME"]:
            smtp.login(config["KB_SMTP_USERNAME"], config["KB_SMTP_PASSWORD"])
    except BaseException:
        smtp.close()
        raise
    return smtp


class _Mailer:
    """One SMTP connection, opened on first use and again after a failure."""

    def __init__(self, config):
        self._config = config
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        if self._smtp is None:
            self._smtp = _connect(self._config)

    def send(self, message: EmailMessage, recipient: str) -> None:
        self.open()
        self._smtp.send_message(
            message, from_addr=self._config["KB_MAIL_FROM"], to_addrs=[recipient]
        )

    def close(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except OSError:
            self._smtp.close()
        self._smtp = None


def _describe_error(error: Exception) -> str:
    """Summarise an SMTP failure for the log without the recipient's address."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _reply in error.recipients.values()})
        return f"recipient refused with SMTP code {', '.join(codes)}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__} with SMTP code {error.smtp_code}"
    return f"{type(error).__name__}: {error}"


def _send_one(session: Session, mailer: _Mailer, digest: Digest, day: date) -> bool:
    """Send one digest and stamp its notifications; return whether it was sent."""
    user_id = digest.user.id
    try:
        message = build_message(session, digest, day)
        mailer.send(message, digest.user.email)
    except (OSError, ValueError) as error:
        # smtplib.SMTPException is an OSError. The connection may be unusable
        # after any failure, so the next person gets a new one.
        mailer.close()
        logger.warning(
            "Daily digest for user %s not sent: %s", user_id, _describe_error(error)
        )
        return False
    ids = [item.notification.id for item in digest.items]
    # NOTE: if this commit fails after the server accepted the message, the
    # next run mails these notifications again.
    session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.digested_at.is_(None))
        .values(digested_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    logger.info("Daily digest for user %s sent with %s items", user_id, len(ids))
    return True


def _claim(session: Session, digest: Digest) -> Digest | None:
    """Lock the digest's notifications that are still pending; None if none are.

    Another ``kb digest send`` run may have collected the same notifications.
    On PostgreSQL the rows stay locked (FOR UPDATE SKIP LOCKED) until
    _send_one commits their stamp, so a simultaneous run skips them instead of
    waiting, and a later run finds them stamped. SQLite ignores FOR UPDATE, but
    there the run holds the database write lock from this read to that commit.
    """
    ids = [item.notification.id for item in digest.items]
    claimed = set(
        session.scalars(
            select(Notification.id)
            .where(Notification.id.in_(ids), Notification.digested_at.is_(None))
            .with_for_update(skip_locked=True)
        )
    )
    items = [item for item in digest.items if item.notification.id in claimed]
    if not items:
        return None
    return Digest(digest.user, items)


def send(session: Session, dry_run: bool = False) -> DigestSummary:
    """Mail every pending daily digest, committing once per person mailed.

    Unlike the services, this commits: each person's notifications are stamped
    right after their message was accepted. A refused recipient or an SMTP error
    for one person is logged and counted, and the others are still mailed.
    Raises DigestError when KB_SMTP_HOST is empty or the first connection fails.
    A dry run needs no SMTP server and sends and stamps nothing.
    """
    config = current_app.config
    if not dry_run and not config["KB_SMTP_HOST"]:
        raise DigestError(
            "KB_SMTP_HOST is empty, so no digest can be sent. Set KB_SMTP_HOST "
            "(and KB_SMTP_PORT if not 25) to the SMTP server that relays mail."
        )
    digests = collect(session)
    summary = DigestSummary(dry_run=dry_run)
    if dry_run:
        summary.mailed = [
            (digest.user.id, digest.user.username, len(digest.items))
            for digest in digests
        ]
        return summary
    if not digests:
        return summary
    day = to_local(utcnow()).date()
    mailer = _Mailer(config)
    try:
        mailer.open()
    except OSError as error:
        raise DigestError(
            f"Could not connect to the SMTP server {config['KB_SMTP_HOST']}:"
            f"{config['KB_SMTP_PORT']} ({_describe_error(error)}). Check "
            "KB_SMTP_HOST, KB_SMTP_PORT and the KB_SMTP_* settings."
        ) from None
    try:
        for digest in digests:
            digest = _claim(session, digest)
            if digest is None:
                # A simultaneous run mailed these notifications or is mailing them.
                continue
            # Read before _send_one commits and expires the loaded rows.
            record = (digest.user.id, digest.user.username, len(digest.items))
            if _send_one(session, mailer, digest, day):
                summary.mailed.append(record)
            else:
                summary.failed_user_ids.append(record[0])
    finally:
        mailer.close()
    logger.info(
        "Daily digest run: %s sent, %s failed",
        summary.users_mailed,
        len(summary.failed_user_ids),
    )
    return summary
