"""How a brief becomes a search document."""

import hashlib
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.articles.models import Article
from kb.articles.rendering import html_to_text
from kb.clients.search import article_client_keywords
from kb.search.documents import SearchDocument
from kb.search.registry import DocumentSource


def article_document(article: Article) -> SearchDocument:
    """Build the index entry of ``article``; its version tracks every indexed field."""
    body = html_to_text(article.body_html)
    tags = tuple(tag.name for tag in article.tags)
    # A division also matches a filter on its section (门类).
    codes = tuple(
        dict.fromkeys(
            code
            for industry in article.industries
            for code in (industry.code, industry.section_code)
            if code
        )
    )
    names = tuple(industry.name for industry in article.industries)
    keywords = article_client_keywords(article)
    digest = hashlib.sha1()
    for part in (
        article.title,
        article.summary,
        body,
        *tags,
        *codes,
        *keywords,
        str(article.published_at),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return SearchDocument(
        doc_id=f"article:{article.id}",
        type="article",
        record_id=article.id,
        title=article.title,
        summary=article.summary,
        body=body,
        url=f"/briefs/{article.id}",
        published_at=article.published_at,
        version=digest.hexdigest(),
        tags=tags,
        industry_codes=codes,
        industry_names=names,
        keywords=keywords,
    )


def _load(session: Session, record_id: int) -> SearchDocument | None:
    article = session.get(Article, record_id)
    return article_document(article) if article is not None else None


def _iter_all(session: Session) -> Iterator[SearchDocument]:
    query = (
        select(Article)
        .options(selectinload(Article.tags), selectinload(Article.industries))
        .order_by(Article.id)
        .execution_options(yield_per=200)
    )
    for article in session.scalars(query):
        yield article_document(article)


ARTICLE_SOURCE = DocumentSource("article", Article, _load, _iter_all)
