"""The Whoosh index behind search: schema, writes, queries and snippets.

Queries never go through Whoosh's query parser. :func:`parse_query` reads what
the user typed into terms (quoted phrases, ``OR``, ``-`` or ``NOT`` exclusions),
and each term becomes a phrase over the recall grams, ranked up when the term is
a whole jieba word or occurs in the title. Nothing a user types can name an
internal field or raise an error.
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema
from whoosh.scoring import BM25F

from kb.search.analysis import (
    gram_tokens,
    index_words,
    load_dictionary,
    normalize_text,
    query_grams,
    query_words,
    term_pattern,
)
from kb.search.documents import SearchDocument, SearchHit, SearchPage

logger = logging.getLogger(__name__)

MAX_TERMS = 10
SNIPPET_CHARS = 140
WORD_BOOST = 2.0
TITLE_BOOST = 4.0


class GramTokenizer(Tokenizer):
    """Whoosh tokenizer over :func:`kb.search.analysis.gram_tokens`."""

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        mode="",
        **kwargs,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for text, pos in gram_tokens(value):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            yield token


def build_schema() -> Schema:
    grams = GramTokenizer()
    return Schema(
        doc_id=ID(stored=True, unique=True),
        type=ID(stored=True),
        tags=ID(),
        industry=ID(),
        acl=ID(),
        published=NUMERIC(int, bits=64, stored=True, sortable=True),
        grams=TEXT(analyzer=grams, phrase=True),
        title_grams=TEXT(analyzer=grams, phrase=True),
        words=TEXT(phrase=False),
        record_id=STORED(),
        title=STORED(),
        url=STORED(),
        version=STORED(),
        text_z=STORED(),
    )


# -- query parsing ----------------------------------------------------------


@dataclass
class Term:
    """One thing to look for: its normalised text and the grams it needs."""

    text: str
    grams: list[str]
    prefix: bool
    words: list[str]


@dataclass
class ParsedQuery:
    """What a query string asks for: every group must match, no exclusion may.

    A group lists alternatives joined by ``OR``.
    """

    groups: list[list[Term]] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)

    @property
    def highlight_terms(self) -> list[str]:
        return [term.text for group in self.groups for term in group]

    def __bool__(self) -> bool:
        return bool(self.groups)


_QUERY_TOKEN_RE = re.compile(r'"([^"]*)"?|(\S+)')


def _make_term(raw: str) -> Term | None:
    text = normalize_text(raw).strip()
    grams = query_grams(text)
    if not grams:
        return None
    return Term(text, grams.tokens, grams.prefix, query_words(text))


def parse_query(q: str) -> ParsedQuery:
    """Read a user's query into terms; never raises, keeps at most 10 terms."""
    parsed = ParsedQuery()
    q = q.replace("\u201c", '"').replace("\u201d", '"').replace("\uff02", '"')
    join_next = negate_next = False
    count = 0
    for match in _QUERY_TOKEN_RE.finditer(q):
        quoted, bare = match.groups()
        raw = quoted if quoted is not None else bare
        if quoted is None:
            if bare == "OR":
                join_next = bool(parsed.groups)
                continue
            if bare == "AND":
                continue
            if bare == "NOT":
                negate_next = True
                continue
            if bare.startswith("-") and len(bare) > 1:
                raw, negate_next = bare[1:], True
        term = _make_term(raw)
        if term is None:
            join_next = negate_next = False
            continue
        count += 1
        if count > MAX_TERMS:
            break
        if negate_next:
            parsed.excluded.append(term)
        elif join_next:
            parsed.groups[-1].append(term)
        else:
            parsed.groups.append([term])
        join_next = negate_next = False
    return parsed


def _recall_query(fieldname: str, term: Term) -> wq.Query:
    if term.prefix:
        return wq.Prefix(fieldname, term.grams[0])
    if len(term.grams) == 1:
        return wq.Term(fieldname, term.grams[0])
    return wq.Phrase(fieldname, term.grams)


def _term_query(term: Term) -> wq.Query:
    recall = _recall_query("grams", term)
    boosts: list[wq.Query] = [
        _recall_query("title_grams", term).with_boost(TITLE_BOOST)
    ]
    if term.words:
        words = [wq.Term("words", word) for word in term.words]
        boosts.append(
            (words[0] if len(words) == 1 else wq.And(words)).with_boost(WORD_BOOST)
        )
    return wq.AndMaybe(recall, wq.Or(boosts))


def build_query(parsed: ParsedQuery) -> wq.Query:
    groups = [
        group_terms[0] if len(group_terms) == 1 else wq.Or(group_terms)
        for group_terms in ([_term_query(t) for t in group] for group in parsed.groups)
    ]
    positive: wq.Query = groups[0] if len(groups) == 1 else wq.And(groups)
    if parsed.excluded:
        negative = wq.Or([_recall_query("grams", t) for t in parsed.excluded])
        return wq.AndNot(positive, negative)
    return positive


# -- snippets ---------------------------------------------------------------


def _display_text(text: str) -> tuple[str, str]:
    """The text to show (spaces collapsed) and its normalised twin of equal length."""
    shown = " ".join(text.split())
    folded = normalize_text(shown)
    if len(folded) == len(shown):
        return shown, folded
    # Rare: a character whose normal form has another length; fold one by one.
    folded = "".join(
        norm if len(norm := normalize_text(char)) == 1 else char for char in shown
    )
    return shown, folded


def make_snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> str:
    """HTML-escaped excerpt of ``text`` around the terms, each wrapped in ``<mark>``.

    Terms are matched in the normalised text and marked in the original, so
    full-width figures and Chinese punctuation are shown as written.
    """
    shown, folded = _display_text(text)
    patterns = [p for p in (term_pattern(t) for t in terms) if p]
    matches = []
    if patterns:
        regex = re.compile("|".join(f"(?:{p})" for p in patterns))
        for match in regex.finditer(folded):
            matches.append(match)
            if len(matches) >= 200:
                break
    if not matches:
        return html.escape(_shorten(shown, 0, width))
    start = _best_window(matches, width)
    start = max(0, start - width // 5)
    end = min(len(shown), start + width)
    pieces = []
    cursor = start
    for match in matches:
        if match.start() < cursor or match.end() > end:
            continue
        pieces.append(html.escape(shown[cursor : match.start()]))
        pieces.append(f"<mark>{html.escape(shown[match.start() : match.end()])}</mark>")
        cursor = match.end()
    pieces.append(html.escape(shown[cursor:end]))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(shown) else ""
    return prefix + "".join(pieces) + suffix


def _best_window(matches: list[re.Match], width: int) -> int:
    """Start of the window of ``width`` characters with the most distinct terms."""
    best_start, best_score = matches[0].start(), 0
    for index, first in enumerate(matches):
        seen = set()
        for match in matches[index:]:
            if match.end() - first.start() > width:
                break
            seen.add(match.group())
        if len(seen) > best_score:
            best_start, best_score = first.start(), len(seen)
    return best_start


def _shorten(text: str, start: int, width: int) -> str:
    end = start + width
    return text[start:end] + ("…" if end < len(text) else "")


# -- the engine -------------------------------------------------------------


def _joined(values: Iterable[str]) -> list[str]:
    return [value for value in values if value]


def _timestamp(moment: datetime | None) -> int:
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


class SearchEngine:
    """One index folder: written by the indexer, read by every request.

    A searcher is kept open and replaced only when another writer has committed,
    so a query costs no file opening. Searches in one process take turns.
    """

    def __init__(self, index_dir: str | Path, jieba_cache: str | Path | None = None):
        load_dictionary(jieba_cache)
        self.path = Path(index_dir) / "whoosh"
        self.path.mkdir(parents=True, exist_ok=True)
        if whoosh_index.exists_in(str(self.path)):
            self._index = whoosh_index.open_dir(str(self.path))
        else:
            self._index = whoosh_index.create_in(str(self.path), build_schema())
        self._lock = threading.RLock()
        self._searcher = None

    # -- writing ------------------------------------------------------------

    def _fields(self, document: SearchDocument) -> dict:
        title = normalize_text(document.title)
        extra = " ".join((*document.tags, *document.industry_names))
        text = normalize_text(f"{document.summary}\n{document.body}\n{extra}")
        return {
            "doc_id": document.doc_id,
            "type": document.type,
            "tags": _joined(document.tags),
            "industry": _joined(document.industry_codes),
            "acl": _joined(document.acl),
            "published": _timestamp(document.published_at),
            "grams": f"{title}\n{text}",
            "title_grams": title,
            "words": index_words(f"{title}\n{text}"),
            "record_id": document.record_id,
            "title": document.title,
            "url": document.url,
            "version": document.version,
            "text_z": zlib.compress(f"{document.summary}\n{document.body}".encode(), 6),
        }

    def write(self, upserts: Iterable[SearchDocument], delete_ids: Iterable[str]):
        """Replace or add ``upserts`` and remove ``delete_ids`` in one commit."""
        upserts, delete_ids = list(upserts), list(delete_ids)
        if not upserts and not delete_ids:
            return
        prepared = [self._fields(document) for document in upserts]
        with self._lock:
            writer = self._index.writer(timeout=60)
            try:
                for doc_id in delete_ids:
                    writer.delete_by_term("doc_id", doc_id)
                for fields in prepared:
                    writer.update_document(**fields)
            except BaseException:
                writer.cancel()
                raise
            writer.commit()

    def clear(self) -> None:
        """Remove every document, starting a new empty index."""
        with self._lock:
            self._close_searcher()
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True, exist_ok=True)
            self._index = whoosh_index.create_in(str(self.path), build_schema())

    # -- reading ------------------------------------------------------------

    def _current_searcher(self):
        searcher = self._searcher
        if searcher is not None and searcher.up_to_date():
            return searcher
        # A new searcher rather than Searcher.refresh(): refreshing reuses
        # segment readers whose deletions are stale and brings back segments
        # that a merge removed, and fails on an empty index.
        self._close_searcher()
        self._searcher = self._index.searcher(weighting=BM25F())
        return self._searcher

    def _close_searcher(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def doc_count(self) -> int:
        with self._lock:
            return self._current_searcher().doc_count()

    def versions(self) -> dict[str, str]:
        """Map every indexed document id to the version it was indexed at."""
        with self._lock:
            searcher = self._current_searcher()
            # Not all_stored_fields(): a segment's copy of it includes deleted
            # documents.
            return {
                stored["doc_id"]: stored["version"]
                for _docnum, stored in searcher.reader().iter_docs()
            }

    def search(
        self,
        q: str,
        *,
        industry: str | None = None,
        tag: str | None = None,
        types: Iterable[str] | None = None,
        acl: Iterable[str] | None = None,
        sort: str = "relevance",
        page: int = 1,
        per_page: int = 20,
        snippets: bool = True,
    ) -> SearchPage:
        """Find documents matching ``q`` and the filters; one page of hits.

        An empty query with a filter lists the filtered documents, newest first.
        An empty query without a filter finds nothing.
        """
        parsed = parse_query(q)
        filters = []
        if industry:
            filters.append(wq.Term("industry", industry))
        if tag:
            filters.append(wq.Term("tags", tag))
        if types:
            filters.append(wq.Or([wq.Term("type", t) for t in types]))
        if acl is not None:
            filters.append(
                wq.Or([wq.Term("acl", token) for token in acl] or [wq.NullQuery])
            )
        if parsed:
            query = build_query(parsed)
        elif filters:
            query, sort = wq.Every(), "date"
        else:
            return SearchPage(total=0, page=page, per_page=per_page)
        filter_query = None
        if filters:
            filter_query = filters[0] if len(filters) == 1 else wq.And(filters)
        options = {"limit": page * per_page, "filter": filter_query}
        if sort == "date":
            options.update(sortedby="published", reverse=True)
        with self._lock:
            searcher = self._current_searcher()
            results = searcher.search(query, **options)
            total = len(results)
            hits = []
            for hit in results[(page - 1) * per_page : page * per_page]:
                stored = hit.fields()
                snippet = ""
                if snippets:
                    text = zlib.decompress(stored["text_z"]).decode()
                    snippet = make_snippet(text, parsed.highlight_terms)
                published = stored.get("published")
                hits.append(
                    SearchHit(
                        doc_id=stored["doc_id"],
                        type=stored["type"],
                        record_id=stored["record_id"],
                        title=stored["title"],
                        url=stored["url"],
                        snippet=snippet,
                        score=float(hit.score or 0.0),
                        published_at=(
                            datetime.fromtimestamp(published, UTC)
                            if published
                            else None
                        ),
                    )
                )
        return SearchPage(total=total, page=page, per_page=per_page, hits=hits)

    def close(self) -> None:
        with self._lock:
            self._close_searcher()
            self._index.close()
