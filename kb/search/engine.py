"""The Whoosh index behind search: schema, writes, queries and snippets.

Whoosh stores the documents and their posting lists. Queries never go through
Whoosh's query parser or matchers: :func:`parse_query` reads what the user
typed into terms (quoted phrases, ``OR``, ``-`` or ``NOT`` exclusions), and
:mod:`kb.search.matching` finds and ranks documents over the posting lists
read as arrays. Nothing a user types can name an internal field or raise an
error."""

from __future__ import annotations

import html
import logging
import re
import shutil
import threading
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema

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
from kb.search.matching import Filters, drop, evaluate, top
from kb.search.postings import SegmentGone, Snapshot

logger = logging.getLogger(__name__)

MAX_TERMS = 10
SNIPPET_CHARS = 140
MAX_PHRASE_CHECKS = 5000
# Kept by kb.search.indexer next to the Whoosh folder: the last outbox entry applied.
APPLIED_SEQ_FILE = "applied-seq"
# Times a search opens the index again when another process's merge deleted
# a segment while it was being opened.
SNAPSHOT_ATTEMPTS = 5


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
        for text in gram_tokens(value):
            token.text = text
            token.boost = 1.0
            token.stopped = False
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
        grams=TEXT(analyzer=grams, phrase=False),
        title_grams=TEXT(analyzer=grams, phrase=False),
        words=TEXT(phrase=False),
        record_id=STORED(),
        title=STORED(),
        url=STORED(),
        version=STORED(),
        text_z=STORED(),
        labels=STORED(),
    )


# -- query parsing ----------------------------------------------------------


@dataclass
class Term:
    """One thing to look for: its normalised text and the grams it needs."""

    text: str
    grams: list[str]
    prefixes: list[str]
    words: list[str]
    quoted: bool = False

    @property
    def needs_check(self) -> bool:
        """Whether having every gram may still not mean having the phrase."""
        return self.quoted and len(self.grams) + len(self.prefixes) > 1


@dataclass
class ParsedQuery:
    """Terms of a query string: every group must match, no exclusion may.

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


def _make_term(raw: str, quoted: bool = False) -> Term | None:
    text = normalize_text(raw).strip()
    grams = query_grams(text)
    if not grams:
        return None
    return Term(text, grams.tokens, grams.prefixes, query_words(text), quoted)


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
        term = _make_term(raw, quoted=quoted is not None)
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


def _phrase_mismatches(
    snapshot: Snapshot, parsed: ParsedQuery, ids: np.ndarray
) -> list[int]:
    """Candidates that have every gram of a required quoted phrase but not the phrase.

    Grams carry no positions, so ``"展期贷款"`` also matches a text with 到期贷款
    and 展期 apart. For a quoted phrase the stored text of each candidate is
    checked. NOTE: at most ``MAX_PHRASE_CHECKS`` candidates are checked, so a
    very common quoted phrase may keep a few such documents.
    """
    terms = [g[0] for g in parsed.groups if len(g) == 1 and g[0].needs_check]
    if not terms:
        return []
    patterns = [re.compile(term_pattern(term.text)) for term in terms]
    mismatches = []
    for docnum in ids[:MAX_PHRASE_CHECKS].tolist():
        stored = snapshot.searcher.stored_fields(docnum)
        parts = (stored["title"], _unpack_text(stored), stored.get("labels", ""))
        text = " ".join(normalize_text("\n".join(parts)).split())
        if not all(pattern.search(text) for pattern in patterns):
            mismatches.append(docnum)
    return mismatches


def _pack_text(text: str) -> bytes:
    """Compress the summary and body kept for snippets and phrase checks."""
    return zlib.compress(text.encode(), 6)


def _unpack_text(stored: dict) -> str:
    return zlib.decompress(stored["text_z"]).decode()


# -- snippets ---------------------------------------------------------------


def _display_text(text: str) -> tuple[str, str]:
    """Return the text to show, spaces collapsed, and its normalised twin."""
    shown = " ".join(text.split())
    if not shown.isprintable():
        # Invisible format characters (zero-width space, BOM) would split words.
        shown = "".join(c for c in shown if unicodedata.category(c) != "Cf")
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
        schema = build_schema()
        self._index = None
        if whoosh_index.exists_in(str(self.path)):
            self._index = whoosh_index.open_dir(str(self.path))
            if sorted(self._index.schema.names()) != sorted(schema.names()):
                self._start_over(schema)
        if self._index is None:
            self._index = whoosh_index.create_in(str(self.path), schema)
        self._lock = threading.RLock()
        self._current: Snapshot | None = None

    def _start_over(self, schema) -> None:
        """Replace an index written with other fields by an empty one.

        Forgetting the applied outbox position makes the indexer apply the
        whole outbox again, which rewrites every document.
        """
        logger.warning(
            "The search index in %s has other fields than this version; "
            "rebuilding it from the outbox",
            self.path,
        )
        self._index.close()
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path.parent / APPLIED_SEQ_FILE).unlink(missing_ok=True)
        self._index = whoosh_index.create_in(str(self.path), schema)

    # -- writing ------------------------------------------------------------

    def _fields(self, document: SearchDocument) -> dict:
        title = normalize_text(document.title)
        extra = " ".join((*document.tags, *document.industry_names, *document.keywords))
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
            "text_z": _pack_text(f"{document.summary}\n{document.body}"),
            "labels": extra,
        }

    def write(self, upserts: Iterable[SearchDocument], delete_ids: Iterable[str]):
        """Replace or add ``upserts`` and remove ``delete_ids`` in one commit."""
        upserts, delete_ids = list(upserts), list(delete_ids)
        if not upserts and not delete_ids:
            return
        prepared = [self._fields(document) for document in upserts]
        with self._lock:
            # Separate files, not one compound file per segment: whoosh3 reads a
            # compound segment into memory whole (BytesIO over its mmap), which
            # cost 790 MB of RSS at 100,000 briefs.
            writer = self._index.writer(timeout=60, compound=False)
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
            self._close_snapshot()
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True, exist_ok=True)
            self._index = whoosh_index.create_in(str(self.path), build_schema())

    # -- reading ------------------------------------------------------------

    def _snapshot(self) -> Snapshot:
        snapshot = self._current
        if snapshot is not None and snapshot.searcher.up_to_date():
            return snapshot
        # A new searcher rather than Searcher.refresh(): refreshing reuses
        # segment readers whose deletions are stale, brings back segments that
        # a merge removed, and fails on an empty index (whoosh3 3.54.0).
        self._close_snapshot()
        attempts = SNAPSHOT_ATTEMPTS
        while True:
            searcher = self._index.searcher()
            try:
                self._current = Snapshot(searcher)
                return self._current
            except SegmentGone:
                # Another process committed a merge while this one opened the
                # index, so the next attempt reads the new table of contents.
                searcher.close()
                attempts -= 1
                if attempts == 0:
                    raise

    def _close_snapshot(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None

    def doc_count(self) -> int:
        with self._lock:
            return self._snapshot().doc_count

    def versions(self) -> dict[str, str]:
        """Map every indexed document id to the version it was indexed at."""
        with self._lock:
            reader = self._snapshot().reader
            # Not all_stored_fields(): a segment's copy of it includes deleted
            # documents.
            return {
                stored["doc_id"]: stored["version"]
                for _docnum, stored in reader.iter_docs()
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
        filters = Filters(
            industry=industry or None,
            tag=tag or None,
            types=tuple(types or ()),
            acl=tuple(acl) if acl is not None else None,
        )
        if not parsed and not filters:
            return SearchPage(total=0, page=page, per_page=per_page)
        if not parsed:
            sort = "date"
        with self._lock:
            snapshot = self._snapshot()
            ids, scores = evaluate(snapshot, parsed, filters)
            if parsed:
                ids, scores = drop(
                    ids, scores, _phrase_mismatches(snapshot, parsed, ids)
                )
            ordered, ordered_scores = top(snapshot, ids, scores, sort, page * per_page)
            start = (page - 1) * per_page
            hits = [
                self._hit(snapshot, docnum, score, parsed, snippets)
                for docnum, score in zip(
                    ordered[start:].tolist(),
                    ordered_scores[start:].tolist(),
                    strict=True,
                )
            ]
        return SearchPage(total=len(ids), page=page, per_page=per_page, hits=hits)

    def _hit(
        self,
        snapshot: Snapshot,
        docnum: int,
        score: float,
        parsed: ParsedQuery,
        snippets: bool,
    ) -> SearchHit:
        stored = snapshot.searcher.stored_fields(docnum)
        snippet = ""
        if snippets:
            snippet = make_snippet(_unpack_text(stored), parsed.highlight_terms)
        published = stored.get("published")
        return SearchHit(
            doc_id=stored["doc_id"],
            type=stored["type"],
            record_id=stored["record_id"],
            title=stored["title"],
            url=stored["url"],
            snippet=snippet,
            score=round(float(score), 4),
            published_at=(
                datetime.fromtimestamp(published, UTC) if published else None
            ),
        )

    def close(self) -> None:
        with self._lock:
            self._close_snapshot()
            self._index.close()
