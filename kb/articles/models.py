"""Industry briefs and their revisions."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.auth.models import User
from kb.extensions import db
from kb.taxonomy.models import Industry, Tag
from kb.timeutil import utcnow

article_industry = Table(
    "article_industry",
    db.metadata,
    Column(
        "article_id", ForeignKey("article.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("industry_code", ForeignKey("industry.code"), primary_key=True),
)

article_tag = Table(
    "article_tag",
    db.metadata,
    Column(
        "article_id", ForeignKey("article.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)


class Article(db.Model):
    """An industry brief; ``body_html`` is rendered and sanitised at write time."""

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(50), default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    source_url: Mapped[str] = mapped_column(String(500), default="")
    published_at: Mapped[datetime] = mapped_column(index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Free-text author name for imported reports whose author has no account.
    author_name: Mapped[str] = mapped_column(String(100), default="")
    # Identity of an imported file: the front matter ``id``, else its relative path.
    import_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    revision_count: Mapped[int] = mapped_column(default=1)
    # Colleagues who marked the brief useful (UsefulMark rows with article_id).
    useful_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User | None] = relationship()
    industries: Mapped[list[Industry]] = relationship(
        secondary=article_industry, order_by=Industry.code
    )
    tags: Mapped[list[Tag]] = relationship(secondary=article_tag, order_by=Tag.name)
    revisions: Mapped[list["ArticleRevision"]] = relationship(
        back_populates="article",
        order_by="ArticleRevision.number.desc()",
        cascade="all, delete-orphan",
    )

    @property
    def byline(self) -> str:
        if self.author is not None:
            return self.author.display_name
        return self.author_name

    def __repr__(self) -> str:
        return f"<Article {self.id} {self.title!r}>"


class ArticleRevision(db.Model):
    """One saved version of an article; the newest one equals the current content."""

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("article.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    body_md: Mapped[str] = mapped_column(Text)
    tags_text: Mapped[str] = mapped_column(Text, default="")
    industries_text: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime]
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    edited_by_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="revisions")
