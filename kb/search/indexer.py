"""Apply the search outbox to this host's index and rebuild or check the index."""

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from kb.search.engine import APPLIED_SEQ_FILE, SearchEngine
from kb.search.models import SearchOutbox
from kb.search.registry import SOURCES

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


@dataclass
class CheckReport:
    """Differences between the database and the index, as document ids."""

    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.extra)


class Indexer:
    """Keeps one index folder in step with the database through the outbox.

    Only one process applies the outbox to a folder at a time (an exclusive
    ``flock`` on a file in the folder); the others wait for it. The last
    applied ``seq`` is kept in the folder, so re-applying after a crash is
    harmless: every entry is re-read from the database and written by id.
    """

    def __init__(
        self,
        engine: SearchEngine,
        index_dir: str,
        session_factory,
        poll_seconds: float = 5.0,
    ):
        self.engine = engine
        self.index_dir = Path(index_dir)
        self.session_factory: sessionmaker = session_factory
        self._seq_file = self.index_dir / APPLIED_SEQ_FILE
        self._lock_file = self.index_dir / "apply.lock"
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.is_deferred = False
        # Other processes write to the outbox too; poll for their entries.
        self.poll_seconds = poll_seconds

    # -- applied position ---------------------------------------------------

    def applied_seq(self) -> int:
        try:
            return int(self._seq_file.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def _store_seq(self, seq: int) -> None:
        tmp = self._seq_file.with_suffix(".tmp")
        tmp.write_text(str(seq))
        os.replace(tmp, self._seq_file)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        with open(self._lock_file, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- applying -----------------------------------------------------------

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Leave outbox entries unapplied inside the block, for bulk writes."""
        previous, self.is_deferred = self.is_deferred, True
        try:
            yield
        finally:
            self.is_deferred = previous

    def apply_pending(self) -> int:
        """Apply every outbox entry after the stored position; return how many."""
        applied = 0
        with self._exclusive(), self.session_factory() as session:
            while True:
                start = self.applied_seq()
                rows = session.execute(
                    select(
                        SearchOutbox.seq, SearchOutbox.doc_type, SearchOutbox.record_id
                    )
                    .where(SearchOutbox.seq > start)
                    .order_by(SearchOutbox.seq)
                    .limit(BATCH_SIZE)
                ).all()
                if not rows:
                    return applied
                keys = {(row.doc_type, row.record_id) for row in rows}
                self._write_records(session, keys)
                self._store_seq(rows[-1].seq)
                applied += len(rows)
                session.rollback()

    def _write_records(self, session: Session, keys: set[tuple[str, int]]) -> None:
        upserts, deletes = [], []
        for doc_type, record_id in sorted(keys):
            source = SOURCES.get(doc_type)
            document = source.load(session, record_id) if source else None
            if document is None:
                deletes.append(f"{doc_type}:{record_id}")
            else:
                upserts.append(document)
        self.engine.write(upserts, deletes)
        logger.info(
            "Applied %d index updates and %d deletions", len(upserts), len(deletes)
        )

    def reindex(self, clear: bool = False) -> int:
        """Rewrite every document from the database; return the number written.

        Documents are replaced in place and those without a record removed at
        the end, so searches keep finding everything while this runs. With
        ``clear`` the index is emptied first, for a damaged index.
        """
        with self._exclusive(), self.session_factory() as session:
            last_seq = session.scalar(select(func.max(SearchOutbox.seq))) or 0
            if clear:
                self.engine.clear()
            written: set[str] = set()
            batch: list = []
            for source in SOURCES.values():
                for document in source.iter_all(session):
                    batch.append(document)
                    if len(batch) >= BATCH_SIZE:
                        self.engine.write(batch, [])
                        written.update(d.doc_id for d in batch)
                        batch = []
            self.engine.write(batch, [])
            written.update(d.doc_id for d in batch)
            extra = sorted(set(self.engine.versions()) - written)
            self.engine.write([], extra)
            self._store_seq(last_seq)
        logger.info(
            "Rewrote %d search documents and removed %d", len(written), len(extra)
        )
        return len(written)

    def check(self) -> CheckReport:
        """Compare every searchable record with its index entry."""
        report = CheckReport()
        indexed = self.engine.versions()
        with self.session_factory() as session:
            expected = {}
            for source in SOURCES.values():
                for document in source.iter_all(session):
                    expected[document.doc_id] = document.version
        for doc_id, version in sorted(expected.items()):
            if doc_id not in indexed:
                report.missing.append(doc_id)
            elif indexed[doc_id] != version:
                report.stale.append(doc_id)
        report.extra = sorted(set(indexed) - set(expected))
        return report

    # -- background thread --------------------------------------------------

    def notify(self) -> None:
        """Ask the background thread to apply the outbox soon."""
        self._wake.set()

    def start_background(self) -> None:
        """Start the daemon thread that applies the outbox whenever notified."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="kb-search-indexer", daemon=True
        )
        self._thread.start()

    def stop_background(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stopping:
                return
            try:
                self.apply_pending()
            except Exception:
                # The entries stay in the outbox; the next notification or
                # `kb search sync` retries them.
                logger.exception("Applying the search outbox failed")
