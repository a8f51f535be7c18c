"""Briefs: validation, creation, editing with revisions, and comparisons."""

import difflib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.articles.models import Article, ArticleRevision
from kb.articles.rendering import render_markdown
from kb.auth.models import User
from kb.errors import NotFound, PermissionDenied, ValidationError
from kb.forum.models import UsefulMark
from kb.forum.services import toggle_useful_mark
from kb.taxonomy.services import (
    industries_for_codes,
    tags_for_names,
    unknown_industry_codes,
)
from kb.taxonomy.tags import normalize_tag, validate_tag
from kb.timeutil import local_date_to_utc, to_utc_naive, utcnow

logger = logging.getLogger(__name__)

TITLE_MAX = 200
SUMMARY_MAX = 2000
SOURCE_MAX = 200
URL_MAX = 500
CATEGORY_MAX = 50
# Publication dates outside this range are typing mistakes; before 1901 the
# Asia/Shanghai zone also has a local-mean-time offset of +08:05:43.
EARLIEST_PUBLISHED = date(1950, 1, 1)
LATEST_PUBLISHED = date(2100, 12, 31)
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


@dataclass
class ArticleInput:
    """Everything a person or an import supplies for a brief."""

    title: str
    body_md: str
    summary: str = ""
    industry_codes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    published_at: datetime | date | None = None
    source: str = ""
    source_url: str = ""
    category: str = ""
    author_name: str = ""

    def __post_init__(self):
        # Browsers send CRLF. Storing LF makes an unchanged form an unchanged text
        # and makes the body limit count the characters the author typed.
        self.body_md = _unix_newlines(self.body_md)
        self.summary = _unix_newlines(self.summary)


def _unix_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _visible(text: str) -> str:
    """``text`` without format characters (zero-width space, BOM) and whitespace."""
    return "".join(
        char
        for char in text
        if not char.isspace() and unicodedata.category(char) != "Cf"
    )


class ArticleErrors(ValidationError):
    """Raised with every invalid field at once; ``errors`` maps field to message."""

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors.values()))
        super().__init__(first, field=next(iter(errors)))
        self.errors = errors


def validate(session: Session, data: ArticleInput, body_max: int) -> dict[str, str]:
    """Return a message per invalid field; empty when ``data`` can be saved."""
    errors: dict[str, str] = {}
    title = data.title.strip()
    if not _visible(title):
        errors["title"] = _l("标题不能为空。")
    elif any(unicodedata.category(char) == "Cc" for char in title):
        errors["title"] = _l("标题含有控制字符，请删除后再提交。")
    elif len(title) > TITLE_MAX:
        errors["title"] = _l(
            "标题最长 %(max)s 个字符，当前 %(n)s 个。", max=TITLE_MAX, n=len(title)
        )
    if not data.body_md.strip():
        errors["body_md"] = _l("正文不能为空。")
    elif len(data.body_md) > body_max:
        errors["body_md"] = _l(
            "正文最长 %(max)s 个字符，当前 %(n)s 个，请删减后再提交。",
            max=f"{body_max:,}",
            n=f"{len(data.body_md):,}",
        )
    published = data.published_at
    if published is not None:
        day = published.date() if isinstance(published, datetime) else published
        if not EARLIEST_PUBLISHED <= day <= LATEST_PUBLISHED:
            errors["published_on"] = _l(
                "发布日期 %(day)s 超出范围：应在 %(first)s 到 %(last)s 之间。",
                day=day.isoformat(),
                first=EARLIEST_PUBLISHED.isoformat(),
                last=LATEST_PUBLISHED.isoformat(),
            )
    if len(data.summary) > SUMMARY_MAX:
        errors["summary"] = _l(
            "摘要最长 %(max)s 个字符，当前 %(n)s 个。",
            max=SUMMARY_MAX,
            n=len(data.summary),
        )
    if len(data.source) > SOURCE_MAX:
        errors["source"] = _l("来源最长 %(max)s 个字符。", max=SOURCE_MAX)
    if len(data.category.strip()) > CATEGORY_MAX:
        errors["category"] = _l("分类最长 %(max)s 个字符。", max=CATEGORY_MAX)
    url = data.source_url.strip()
    if url and (len(url) > URL_MAX or not URL_RE.match(url)):
        errors["source_url"] = _l(
            "来源链接 %(url)s 无效：需以 http:// 或 https:// 开头。", url=repr(url[:80])
        )
    unknown = unknown_industry_codes(session, data.industry_codes)
    if unknown:
        errors["industries"] = _l(
            "未知的行业代码：%(codes)s。", codes="、".join(unknown)
        )
    for tag in data.tags:
        problem = validate_tag(normalize_tag(tag))
        if problem:
            errors["tags"] = problem
            break
    return errors


def _published(value: datetime | date | None) -> datetime:
    if value is None:
        return utcnow()
    if isinstance(value, datetime):
        return to_utc_naive(value)
    return local_date_to_utc(value)


def _apply(session: Session, article: Article, data: ArticleInput) -> None:
    article.title = data.title.strip()
    article.summary = data.summary.strip()
    article.body_md = data.body_md
    article.body_html = render_markdown(data.body_md)
    article.source = data.source.strip()
    article.source_url = data.source_url.strip()
    article.category = data.category.strip()
    article.industries = industries_for_codes(session, data.industry_codes)
    article.tags = tags_for_names(session, data.tags)
    if data.published_at is not None or article.published_at is None:
        article.published_at = _published(data.published_at)
    if data.author_name:
        article.author_name = data.author_name.strip()[:100]
    article.updated_at = utcnow()


def _snapshot(article: Article, number: int, editor: User | None) -> ArticleRevision:
    return ArticleRevision(
        number=number,
        title=article.title,
        summary=article.summary,
        body_md=article.body_md,
        tags_text="、".join(tag.name for tag in article.tags),
        industries_text="、".join(industry.label for industry in article.industries),
        published_at=article.published_at,
        edited_by_id=editor.id if editor else None,
        edited_by_name=editor.display_name if editor else "导入",
    )


def create_article(
    session: Session,
    data: ArticleInput,
    author: User | None,
    body_max: int,
    import_key: str | None = None,
) -> Article:
    """Create a brief and its first revision; raise ArticleErrors for bad input."""
    errors = validate(session, data, body_max)
    if errors:
        raise ArticleErrors(errors)
    article = Article(author=author, import_key=import_key, revision_count=1)
    _apply(session, article, data)
    article.revisions.append(_snapshot(article, 1, author))
    session.add(article)
    session.flush()
    logger.info("Created article %s", article.id)
    return article


def update_article(
    session: Session,
    article: Article,
    data: ArticleInput,
    editor: User | None,
    body_max: int,
) -> bool:
    """Save an edit as a new revision; return False when nothing changed."""
    errors = validate(session, data, body_max)
    if errors:
        raise ArticleErrors(errors)
    # Lock the brief and re-read it, so simultaneous edits get consecutive
    # revision numbers.
    session.refresh(article, with_for_update=True)
    before = _fingerprint(article)
    _apply(session, article, data)
    if _fingerprint(article) == before:
        return False
    article.revision_count += 1
    article.revisions.append(_snapshot(article, article.revision_count, editor))
    session.flush()
    logger.info("Updated article %s to revision %s", article.id, article.revision_count)
    return True


def _fingerprint(article: Article) -> tuple:
    return (
        article.title,
        article.summary,
        article.body_md,
        article.source,
        article.source_url,
        article.category,
        article.published_at,
        # Collections load from the database in key order: compare as sets.
        tuple(sorted(industry.code for industry in article.industries)),
        tuple(sorted(tag.name for tag in article.tags)),
    )


def get_article(session: Session, article_id: int) -> Article:
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound(f"简报 {article_id} 不存在。")
    return article


def can_edit(user: User, article: Article) -> bool:
    return user.is_admin or (
        article.author_id is not None and article.author_id == user.id
    )


def require_edit(user: User, article: Article) -> None:
    if not can_edit(user, article):
        raise PermissionDenied("只有作者和管理员可以编辑这篇简报。")


def toggle_useful(session: Session, user: User, article: Article) -> bool:
    """Mark or unmark ``article`` as useful for ``user``; return the new state."""
    return toggle_useful_mark(session, user, article)


def has_marked_useful(session: Session, user: User, article: Article) -> bool:
    return (
        session.scalar(
            select(UsefulMark.id).where(
                UsefulMark.user_id == user.id, UsefulMark.article_id == article.id
            )
        )
        is not None
    )


def get_revision(session: Session, article: Article, number: int) -> ArticleRevision:
    revision = session.scalar(
        select(ArticleRevision).where(
            ArticleRevision.article_id == article.id, ArticleRevision.number == number
        )
    )
    if revision is None:
        raise NotFound(f"简报 {article.id} 没有第 {number} 版。")
    return revision


@dataclass(frozen=True)
class FieldDiff:
    """The line-by-line difference of one field between two revisions."""

    label: str
    lines: list[tuple[str, str]]


def diff_revisions(old: ArticleRevision, new: ArticleRevision) -> list[FieldDiff]:
    """Compare two revisions field by field; lines are ("+"|"-"|" "|"@", text)."""
    fields = (
        (_l("标题"), "title"),
        (_l("摘要"), "summary"),
        (_l("行业"), "industries_text"),
        (_l("标签"), "tags_text"),
        (_l("正文"), "body_md"),
    )
    result = []
    for label, name in fields:
        a = (getattr(old, name) or "").splitlines()
        b = (getattr(new, name) or "").splitlines()
        if a == b:
            continue
        lines = []
        for line in difflib.unified_diff(a, b, lineterm="", n=2):
            if line.startswith(("---", "+++")):
                continue
            kind = line[:1] if line[:1] in "+-@" else " "
            lines.append((kind, line[1:] if kind != "@" else line))
        result.append(FieldDiff(label, lines))
    return result
