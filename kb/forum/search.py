"""Search documents of posts and replies.

An entry carries the post's audience tokens (``access.post_acl``), so a search
only ever finds, counts and quotes what the reader may see. Hidden posts and
replies have no entry at all. No entry names an author.
"""

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.articles.rendering import html_to_text
from kb.clients.search import post_client_keywords
from kb.forum.access import post_acl
from kb.forum.models import Post, Reply
from kb.search.documents import SearchDocument, content_version, industry_facets
from kb.search.registry import DocumentSource, built_documents, record_loader


def _facets(post: Post) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    tags = tuple(tag.name for tag in post.tags)
    codes, names = industry_facets(post.industries)
    return tags, codes, names


def post_document(post: Post) -> SearchDocument | None:
    if post.hidden:
        return None
    body = html_to_text(post.body_html)
    tags, codes, names = _facets(post)
    acl = post_acl(post)
    keywords = post_client_keywords(post)
    return SearchDocument(
        doc_id=f"post:{post.id}",
        type="post",
        record_id=post.id,
        title=post.title,
        summary="",
        body=body,
        url=f"/forum/{post.id}",
        published_at=post.created_at,
        version=content_version(
            post.title, body, post.signal_type, *tags, *codes, *acl, *keywords
        ),
        tags=tags,
        industry_codes=codes,
        industry_names=names,
        acl=acl,
        keywords=keywords,
    )


def reply_document(reply: Reply) -> SearchDocument | None:
    post = reply.post
    if reply.hidden or post.hidden:
        return None
    body = html_to_text(reply.body_html)
    tags, codes, names = _facets(post)
    acl = post_acl(post)
    # The post's title is not indexed with each reply, so a search for words of
    # the title finds the post once, not every reply under it. Result pages
    # show the post's title next to a reply.
    return SearchDocument(
        doc_id=f"reply:{reply.id}",
        type="reply",
        record_id=reply.id,
        title="",
        summary="",
        body=body,
        url=f"/forum/{post.id}#reply-{reply.id}",
        published_at=reply.created_at,
        version=content_version(body, *tags, *codes, *acl),
        tags=tags,
        industry_codes=codes,
        industry_names=names,
        acl=acl,
    )


def _iter_posts(session: Session) -> Iterator[SearchDocument]:
    query = (
        select(Post)
        .options(
            selectinload(Post.tags),
            selectinload(Post.industries),
            selectinload(Post.audience),
        )
        .order_by(Post.id)
    )
    return built_documents(session, query, post_document)


def _iter_replies(session: Session) -> Iterator[SearchDocument]:
    query = select(Reply).options(selectinload(Reply.post)).order_by(Reply.id)
    return built_documents(session, query, reply_document)


POST_SOURCE = DocumentSource(
    "post", Post, record_loader(Post, post_document), _iter_posts
)
REPLY_SOURCE = DocumentSource(
    "reply", Reply, record_loader(Reply, reply_document), _iter_replies
)


def reply_titles(session: Session, reply_ids: list[int]) -> dict[int, str]:
    """Return the titles of the posts that the given replies belong to."""
    if not reply_ids:
        return {}
    rows = session.execute(
        select(Reply.id, Post.title)
        .join(Post, Post.id == Reply.post_id)
        .where(Reply.id.in_(reply_ids))
    )
    return dict(rows.all())
