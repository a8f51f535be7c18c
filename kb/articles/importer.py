"""Import Markdown files with YAML front matter as briefs."""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import frontmatter
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.articles.models import Article
from kb.articles.services import (
    ArticleErrors,
    ArticleInput,
    create_article,
    update_article,
)
from kb.errors import ValidationError
from kb.taxonomy.gbt4754 import lookup

logger = logging.getLogger(__name__)

FIELD_LABELS = {
    "title": "title",
    "body_md": "body",
    "summary": "summary",
    "source": "source",
    "source_url": "sourceUrl",
    "industries": "industries",
    "tags": "tags",
    "published_on": "publishedAt",
    "category": "category",
}

# Length of Article.import_key, which stores the front matter id or the path.
IMPORT_KEY_MAX = 300


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one file: created, updated, unchanged, skipped or rejected."""

    path: str
    status: str
    article_id: int | None = None
    reason: str = ""


class ImportRejected(ValidationError):
    """Raised when a file cannot be imported; the message names the problem."""


class NotAReport(ImportRejected):
    """Raised for Markdown without front matter, such as a folder's README."""


def find_markdown_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.md") if path.is_file())


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_text(item) for item in value)
    return str(value).strip()


def _list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        from kb.taxonomy.tags import parse_tags

        return parse_tags(value)
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return [str(value).strip()]


def _published(meta: dict):
    raw = meta.get("publishedAt", meta.get("date"))
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime | date):
        return raw
    text = str(raw).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ImportRejected(
            f"publishedAt/date {text[:40]!r} is not an ISO date such as 2024-06-30"
        ) from None


def _industry_codes(values: list[str]) -> list[str]:
    codes = []
    for value in values:
        found = lookup(value)
        if found is None:
            raise ImportRejected(f"industries: unknown industry {value!r}")
        codes.append(found[0])
    return codes


def read_file(path: Path) -> tuple[dict, str]:
    """Return the front matter and body of ``path``, or raise ImportRejected."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportRejected(f"not valid UTF-8 (byte {error.start})") from None
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as error:
        first_line = str(error).splitlines()[0] if str(error) else "syntax error"
        raise ImportRejected(f"malformed YAML front matter: {first_line}") from None
    except (ValueError, OverflowError) as error:
        # PyYAML builds dates while parsing: publishedAt: 2024-13-45 fails here.
        raise ImportRejected(f"invalid value in YAML front matter: {error}") from None
    if not frontmatter.checks(text):
        raise NotAReport("no YAML front matter; read as a note, not a report")
    if not isinstance(post.metadata, dict):
        raise ImportRejected("front matter is not a mapping of keys to values")
    return post.metadata, post.content


def import_file(
    session: Session, path: Path, root: Path, body_max: int
) -> ImportOutcome:
    """Create or update the brief of one file; never commits."""
    relative = path.relative_to(root).as_posix()
    try:
        meta, body = read_file(path)
        key = _text(meta.get("id")) or relative
        if len(key) > IMPORT_KEY_MAX:
            source = "id" if _text(meta.get("id")) else "file path"
            raise ImportRejected(
                f"{source} is {len(key)} characters long; the maximum is "
                f"{IMPORT_KEY_MAX}, so shorten it"
            )
        title = _text(meta.get("title"))
        if not title:
            raise ImportRejected("title is missing from the front matter")
        data = ArticleInput(
            title=title,
            body_md=body,
            summary=_text(meta.get("summary") or meta.get("description")),
            industry_codes=_industry_codes(_list(meta.get("industries"))),
            tags=_list(meta.get("tags")),
            published_at=_published(meta),
            source=_text(meta.get("source")),
            source_url=_text(meta.get("sourceUrl")),
            category=_text(meta.get("category")),
            author_name=_text(meta.get("author")),
        )
        article = session.scalar(select(Article).where(Article.import_key == key))
        if article is None:
            article = create_article(session, data, None, body_max, import_key=key)
            return ImportOutcome(relative, "created", article.id)
        changed = update_article(session, article, data, None, body_max)
        return ImportOutcome(
            relative, "updated" if changed else "unchanged", article.id
        )
    except ArticleErrors as error:
        reasons = "; ".join(
            f"{FIELD_LABELS.get(name, name)}: {message}"
            for name, message in error.errors.items()
        )
        return ImportOutcome(relative, "rejected", reason=reasons)
    except NotAReport as error:
        return ImportOutcome(relative, "skipped", reason=error.message)
    except ImportRejected as error:
        return ImportOutcome(relative, "rejected", reason=error.message)
    except OSError as error:
        return ImportOutcome(
            relative, "rejected", reason=f"cannot read file: {error.strerror}"
        )
    except Exception as error:
        # One unexpected failure must not stop a bulk import: report the file
        # and go on with the next one.
        logger.exception("Importing %s failed", relative)
        return ImportOutcome(
            relative,
            "rejected",
            reason=f"unexpected error: {type(error).__name__}: {error}",
        )
