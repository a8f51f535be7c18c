"""Subscriptions and the notifications they produce."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.auth.models import User
from kb.extensions import db
from kb.timeutil import utcnow

# Kinds of followed things; ``target`` contains an industry code, a tag name,
# a signal type, a user id or a post id.
TARGET_KINDS = ("industry", "tag", "type", "user", "post")
DELIVERIES = ("immediate", "daily", "off")


class Subscription(db.Model):
    """A person follows an industry, a tag, a signal type, a user or a post."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(String(64))
    delivery: Mapped[str] = mapped_column(String(10), default="immediate")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "kind", "target", name="uq_subscription_target"),
        Index("ix_subscription_kind_target", "kind", "target"),
    )


class Notification(db.Model):
    """One entry in a person's inbox about a post or a question.

    Post entries tell of a new post or reply the person follows; question
    entries tell of a question sent to the person, a new answer to their
    question, or their answer being accepted.

    ``delivery`` is copied from the subscription that matched: "daily" entries are
    also mailed by the digest, which stamps ``digested_at``.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(20))
    # Exactly one of post_id and question_id is set; answer_id goes with a
    # question.
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("post.id", ondelete="CASCADE")
    )
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE")
    )
    answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("answer.id", ondelete="CASCADE")
    )
    reply_id: Mapped[int | None] = mapped_column(
        ForeignKey("reply.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(String(120), default="")
    delivery: Mapped[str] = mapped_column(String(10), default="immediate")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    digested_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_notification_user_read", "user_id", "read_at"),
        Index("ix_notification_digest", "delivery", "digested_at"),
    )
