"""The records that pass between the application and the search engine."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SearchDocument:
    """One searchable record as the engine indexes it.

    ``doc_id`` is ``"<type>:<record id>"`` and is unique in the index. ``acl`` lists
    the audience tokens that may see the document (``"all"`` for every signed-in
    user); a search restricted to some tokens returns documents carrying any of them.
    ``version`` is a digest of the indexed content, used to find stale entries.
    ``keywords`` are indexed and matched like the text but not shown in snippets.
    """

    doc_id: str
    type: str
    record_id: int
    title: str
    summary: str
    body: str
    url: str
    published_at: datetime
    version: str
    tags: tuple[str, ...] = ()
    industry_codes: tuple[str, ...] = ()
    industry_names: tuple[str, ...] = ()
    acl: tuple[str, ...] = ("all",)
    # More searchable words that are not part of the text, such as the names and
    # credit codes of linked clients.
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchHit:
    """One result of a search, with a snippet of HTML-escaped text and ``<mark>``."""

    doc_id: str
    type: str
    record_id: int
    title: str
    url: str
    snippet: str
    score: float
    published_at: datetime | None


@dataclass(frozen=True)
class SearchPage:
    """One page of results and the total number of matching documents."""

    total: int
    page: int
    per_page: int
    hits: list[SearchHit] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def content_version(*parts: str) -> str:
    """Return a digest of ``parts``, so an entry is rewritten only when they change."""
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def industry_facets(industries: Iterable) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the industry codes and names to index for tagged ``industries``.

    A division also brings its section (门类) code, so a filter on the
    section finds it.
    """
    industries = list(industries)
    codes = tuple(
        dict.fromkeys(
            code
            for industry in industries
            for code in (industry.code, industry.section_code)
            if code
        )
    )
    return codes, tuple(industry.name for industry in industries)
