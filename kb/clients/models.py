"""Client records, their links to briefs and posts, and the client audit log."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.auth.models import User
from kb.extensions import db
from kb.taxonomy.models import Industry
from kb.timeutil import utcnow

CLIENT_STATUSES = ("active", "at_risk", "lost")

# Deleting a client or a post deletes its links; merging moves them.
client_post = Table(
    "client_post",
    db.metadata,
    Column("client_id", ForeignKey("client.id", ondelete="CASCADE"), primary_key=True),
    Column("post_id", ForeignKey("post.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_client_post_post_id", "post_id"),
)

client_article = Table(
    "client_article",
    db.metadata,
    Column("client_id", ForeignKey("client.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "article_id", ForeignKey("article.id", ondelete="CASCADE"), primary_key=True
    ),
    Index("ix_client_article_article_id", "article_id"),
)


class Client(db.Model):
    """A corporate client as the CRM exports it, keyed on its credit code."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    # Initials and full pinyin of the name, lower case, for type-ahead search:
    # 招商银行 -> "zsyh" and "zhaoshangyinhang".
    name_initials: Mapped[str] = mapped_column(String(200), index=True, default="")
    name_pinyin: Mapped[str] = mapped_column(String(800), default="")
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    industry_code: Mapped[str | None] = mapped_column(
        ForeignKey("industry.code"), index=True
    )
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    branch: Mapped[str] = mapped_column(String(100), default="")
    segment: Mapped[str] = mapped_column(String(50), default="")
    status: Mapped[str] = mapped_column(String(10), default="active")
    # Products held, one per line, as the CRM lists them.
    products: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    industry: Mapped[Industry | None] = relationship()
    manager: Mapped[User | None] = relationship()

    @property
    def product_list(self) -> list[str]:
        return [line for line in self.products.split("\n") if line.strip()]

    def __repr__(self) -> str:
        return f"<Client {self.id} {self.credit_code} {self.name!r}>"


class ClientAlias(db.Model):
    """The credit code of a client that was merged into another one.

    An import that lists the code again rejects the row and names the client
    it was merged into, instead of creating the merged client anew.
    """

    credit_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Client] = relationship()


class ClientAccess(db.Model):
    """One view of a client's briefing page or API record: who, when, which."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    # Kept as text too, so the log still names a client after it is deleted.
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("client.id", ondelete="SET NULL")
    )
    credit_code: Mapped[str] = mapped_column(String(18))
    client_name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(10), default="page")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    user: Mapped[User] = relationship()

    __table_args__ = (
        Index("ix_client_access_user_created", "user_id", "created_at"),
        Index("ix_client_access_client_created", "client_id", "created_at"),
    )
