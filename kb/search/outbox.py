"""Record index changes in the writing transaction and apply them after commit.

Every flush that inserts, updates or deletes a searchable record also inserts
a SearchOutbox row on the same connection, so the change and its index entry
commit or roll back together. After a commit the indexer applies the rows in
``seq`` order; a crash in between leaves them in the table, and the next start
or ``kb search sync`` applies them.
"""

import logging

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from kb.search.models import SearchOutbox
from kb.search.registry import source_for_model

logger = logging.getLogger(__name__)

_PENDING_KEY = "kb_search_outbox_written"


def _changed_records(session: Session) -> set[tuple[str, int]]:
    changed = set()
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        source = source_for_model(type(obj))
        if source is None:
            continue
        record_id = getattr(obj, "id", None)
        if record_id is None:
            continue
        if obj in session.dirty and not session.is_modified(obj):
            continue
        changed.add((source.doc_type, record_id))
    return changed


def _after_flush(session: Session, flush_context) -> None:
    changed = _changed_records(session)
    if not changed:
        return
    rows = [{"doc_type": t, "record_id": i} for t, i in sorted(changed)]
    session.connection().execute(insert(SearchOutbox), rows)
    session.info[_PENDING_KEY] = True


def install(session_class, on_commit) -> None:
    """Call ``on_commit()`` after each commit of ``session_class`` that wrote rows."""

    @event.listens_for(session_class, "after_flush")
    def after_flush(session, flush_context):
        _after_flush(session, flush_context)

    # SQLAlchemy also fires these events when a SAVEPOINT is released or rolled
    # back; the outer transaction decides, so they wait for it.
    @event.listens_for(session_class, "after_commit")
    def after_commit(session):
        if session.in_nested_transaction():
            return
        if session.info.pop(_PENDING_KEY, False):
            on_commit()

    @event.listens_for(session_class, "after_rollback")
    def after_rollback(session):
        if session.in_nested_transaction():
            return
        session.info.pop(_PENDING_KEY, None)


def enqueue(session: Session, doc_type: str, record_ids) -> None:
    """Queue records whose index entry depends on a change elsewhere.

    A reply's entry carries its post's audience, so a change of the post's
    visibility must re-index the replies although they did not change.
    """
    rows = [{"doc_type": doc_type, "record_id": i} for i in sorted(set(record_ids))]
    if not rows:
        return
    session.connection().execute(insert(SearchOutbox), rows)
    session.info[_PENDING_KEY] = True
