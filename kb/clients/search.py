"""Clients in the shared search, and the client words of linked posts and briefs.

A client's entry is found by its name, pinyin initials, full pinyin and
credit code; it links to the client's briefing page. Posts and briefs linked
to a client carry the client's name and code as keywords, so searching a
client's name also finds what was written about it.
"""

import hashlib
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, selectinload

from kb.clients.models import Client, client_article, client_post
from kb.search.documents import SearchDocument
from kb.search.registry import DocumentSource


def client_document(client: Client) -> SearchDocument:
    industry = client.industry
    facts = [
        client.branch,
        client.segment,
        industry.name if industry is not None else "",
        *client.product_list,
    ]
    body = "\n".join(part for part in facts if part)
    # The header search matches whole words, so the leading parts of the
    # initials are indexed too: typing "hdqc" finds 沪东汽车配件有限公司.
    initials = client.name_initials
    prefixes = tuple(initials[:n] for n in range(3, len(initials)))
    keywords = (client.credit_code, initials, client.name_pinyin, *prefixes)
    codes = ()
    if industry is not None:
        codes = tuple(c for c in (industry.code, industry.section_code) if c)
    digest = hashlib.sha1()
    for part in (client.name, body, *keywords, *codes):
        digest.update(part.encode())
        digest.update(b"\0")
    return SearchDocument(
        doc_id=f"client:{client.id}",
        type="client",
        record_id=client.id,
        title=client.name,
        summary="",
        body=body,
        url=f"/clients/{client.credit_code}",
        published_at=client.updated_at,
        version=digest.hexdigest(),
        industry_codes=codes,
        industry_names=(industry.name,) if industry is not None else (),
        keywords=keywords,
    )


def _linked_keywords(session: Session, table, column: str, record_id: int):
    rows = session.execute(
        select(Client.name, Client.credit_code)
        .join(table, table.c.client_id == Client.id)
        .where(table.c[column] == record_id)
        .order_by(Client.id)
    ).all()
    return tuple(word for row in rows for word in row)


def post_client_keywords(post) -> tuple[str, ...]:
    """Names and credit codes of the clients linked to a post."""
    session = object_session(post)
    if session is None or post.id is None:
        return ()
    return _linked_keywords(session, client_post, "post_id", post.id)


def article_client_keywords(article) -> tuple[str, ...]:
    session = object_session(article)
    if session is None or article.id is None:
        return ()
    return _linked_keywords(session, client_article, "article_id", article.id)


def _load(session: Session, record_id: int) -> SearchDocument | None:
    client = session.get(Client, record_id)
    return client_document(client) if client is not None else None


def _iter_all(session: Session) -> Iterator[SearchDocument]:
    query = (
        select(Client)
        .options(selectinload(Client.industry))
        .order_by(Client.id)
        .execution_options(yield_per=200)
    )
    for client in session.scalars(query):
        yield client_document(client)


CLIENT_SOURCE = DocumentSource("client", Client, _load, _iter_all)
