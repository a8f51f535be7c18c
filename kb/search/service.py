"""The application's search: engine set-up, outbox wiring and validated queries."""

import logging
from dataclasses import dataclass

from flask import Flask, current_app, has_app_context, has_request_context
from sqlalchemy.orm import Session, sessionmaker

from kb.errors import ValidationError
from kb.extensions import db
from kb.search import outbox
from kb.search.analysis import load_dictionary
from kb.search.documents import SearchPage
from kb.search.engine import SearchEngine
from kb.search.indexer import Indexer
from kb.search.registry import register

logger = logging.getLogger(__name__)

SORTS = ("relevance", "date")
# Kinds of record a search can be limited to with ``type``.
TYPES = ("article", "post", "reply", "client", "question", "course", "attachment")
MAX_PER_PAGE = 100
MAX_PAGE = 500
MAX_QUERY_CHARS = 1000

_outbox_installed = False


def init_search(app: Flask) -> None:
    """Load jieba, open this host's index and apply outbox entries after commits."""
    global _outbox_installed
    from kb.articles.search import ARTICLE_SOURCE
    from kb.clients.search import CLIENT_SOURCE
    from kb.forum.search import POST_SOURCE, REPLY_SOURCE
    from kb.questions.search import QUESTION_SOURCE
    from kb.training.search import ATTACHMENT_SOURCE, COURSE_SOURCE

    register(ARTICLE_SOURCE)
    register(CLIENT_SOURCE)
    register(POST_SOURCE)
    register(REPLY_SOURCE)
    register(QUESTION_SOURCE)
    register(COURSE_SOURCE)
    register(ATTACHMENT_SOURCE)
    load_dictionary(app.config["KB_JIEBA_CACHE"])
    engine = SearchEngine(app.config["KB_INDEX_DIR"], app.config["KB_JIEBA_CACHE"])
    with app.app_context():
        factory = sessionmaker(bind=db.engine)
    indexer = Indexer(
        engine,
        app.config["KB_INDEX_DIR"],
        factory,
        poll_seconds=app.config["KB_SEARCH_POLL_SECONDS"],
        gap_seconds=app.config["KB_SEARCH_GAP_SECONDS"],
    )
    app.extensions["kb_indexer"] = indexer
    if not _outbox_installed:
        outbox.install(Session, _on_outbox_commit)
        _outbox_installed = True

    @app.before_request
    def start_indexer_on_first_request():
        start_indexer_thread(app)


def start_indexer_thread(app: Flask) -> None:
    """Start the web process's search thread once, unless a follower indexes."""
    indexer = get_indexer(app)
    if app.config["KB_SEARCH_FOLLOWER"] or not app.config["KB_SEARCH_BACKGROUND"]:
        return
    if indexer._thread is None:
        indexer.start_background()
        # Apply what an earlier process committed but did not index.
        indexer.notify()


def get_indexer(app: Flask | None = None) -> Indexer:
    return (app or current_app).extensions["kb_indexer"]


def _on_outbox_commit() -> None:
    if not has_app_context():
        return
    indexer = get_indexer()
    if indexer.is_deferred:
        return
    config = current_app.config
    if has_request_context() and config["KB_SEARCH_FOLLOWER"]:
        return
    if config["KB_SEARCH_BACKGROUND"] and has_request_context():
        indexer.start_background()
        indexer.notify()
        return
    try:
        indexer.apply_pending()
    except Exception:
        # The data is committed and the entries stay in the outbox, so the
        # next commit, poll or `kb search sync` applies them.
        logger.exception("Applying the search outbox after a commit failed")


@dataclass(frozen=True)
class SearchQuery:
    """Validated search parameters."""

    q: str
    industry: str | None = None
    tag: str | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    type: str | None = None


def parse_query(args, default_per_page: int = 20) -> SearchQuery:
    """Validate request arguments; raise ValidationError naming the bad parameter."""
    q = (args.get("q") or "")[:MAX_QUERY_CHARS]
    sort = args.get("sort") or "relevance"
    if sort not in SORTS:
        raise ValidationError(
            f"sort={sort!r} is invalid; use relevance or date.", field="sort"
        )
    page = positive_int(args, "page", 1, MAX_PAGE)
    per_page = positive_int(args, "per_page", default_per_page, MAX_PER_PAGE)
    industry = (args.get("industry") or "").strip() or None
    tag = (args.get("tag") or "").strip() or None
    if tag:
        from kb.taxonomy.tags import normalize_tag

        tag = normalize_tag(tag)
    doc_type = (args.get("type") or "").strip() or None
    if doc_type is not None and doc_type not in TYPES:
        raise ValidationError(
            f"type={doc_type[:40]!r} is invalid; use one of: {', '.join(TYPES)}.",
            field="type",
        )
    return SearchQuery(q, industry, tag, sort, page, per_page, doc_type)


def positive_int(args, name: str, default: int, maximum: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{name}={raw!r} is invalid; use a whole number from 1 to {maximum}.",
            field=name,
        ) from None
    if not 1 <= value <= maximum:
        raise ValidationError(
            f"{name}={value} is out of range; use a number from 1 to {maximum}.",
            field=name,
        )
    return value


def run_search(query: SearchQuery, acl: list[str] | None) -> SearchPage:
    """Run a validated query for a reader whose audience tokens are ``acl``.

    ``acl`` None searches everything (admins); callers get it from
    ``kb.forum.access.search_acl`` so readers find only what they may read.
    """
    engine = get_indexer().engine
    return engine.search(
        query.q,
        industry=query.industry,
        tag=query.tag,
        types=(query.type,) if query.type else None,
        acl=acl,
        sort=query.sort,
        page=query.page,
        per_page=query.per_page,
    )
