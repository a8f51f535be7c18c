"""Apply the search outbox to this host's index and rebuild or check the index."""

import fcntl
import json
import logging
import os
import threading
import time
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
# Outbox entries looked up by seq in one query.
GAP_QUERY_SIZE = 500
# Outbox numbers below the reindex position checked for late commits.
REINDEX_GAP_WINDOW = 1000


@dataclass
class Position:
    """How far one index folder has followed the outbox.

    ``seq`` is the highest entry applied. ``gaps`` contains the numbers below it
    that were missing when the entries around them were applied, with the
    time (seconds since the epoch) they were first missed. On PostgreSQL a
    transaction takes its numbers when it writes and may commit after a later
    one, so a gap can still fill. A gap whose transaction rolled back never
    fills, and it is forgotten after the gap timeout.
    """

    seq: int = 0
    gaps: dict[int, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "Position":
        text = text.strip()
        if not text:
            return cls()
        if text.isdigit():
            # Written by an earlier version: a bare number.
            return cls(int(text))
        data = json.loads(text)
        gaps = {int(seq): float(seen) for seq, seen in data.get("gaps", {}).items()}
        return cls(int(data["seq"]), gaps)

    def dump(self) -> str:
        gaps = {str(seq): seen for seq, seen in sorted(self.gaps.items())}
        return json.dumps({"seq": self.seq, "gaps": gaps})


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
    ``flock`` on a file in the folder); the others wait for it. The position
    (the last applied ``seq`` and any numbers still missing below it) is kept
    in the folder, so each host's folder follows the one outbox on its own.
    Re-applying after a crash is harmless: every entry is re-read from the
    database and written by id.
    """

    def __init__(
        self,
        engine: SearchEngine,
        index_dir: str,
        session_factory,
        poll_seconds: float = 2.0,
        gap_seconds: float = 3600.0,
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
        # Failed looks at the outbox in a row, for quieter logs.
        self._failures = 0
        # Other processes write to the outbox too; poll for their entries.
        self.poll_seconds = poll_seconds
        # How long a missing seq may still be filled by a slow transaction.
        self.gap_seconds = gap_seconds

    # -- applied position ---------------------------------------------------

    def position(self) -> Position:
        try:
            text = self._seq_file.read_text()
        except FileNotFoundError:
            return Position()
        try:
            return Position.parse(text)
        except (ValueError, KeyError, TypeError, AttributeError):
            # Starting again from 0 re-applies the whole outbox: slow, but
            # it loses nothing.
            logger.warning("Unreadable %s; applying the outbox from the start", text)
            return Position()

    def applied_seq(self) -> int:
        return self.position().seq

    def _store_position(self, position: Position) -> None:
        tmp = self._seq_file.with_suffix(".tmp")
        with open(tmp, "w") as handle:
            handle.write(position.dump())
            handle.flush()
            os.fsync(handle.fileno())
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
        """Apply every outbox entry not applied to this folder; return how many.

        Entries are read in ``seq`` order after the stored position, plus the
        entries that have since filled a gap below it. The index is written
        before the position moves, so a crash between the two re-applies
        entries rather than skipping them.
        """
        applied = 0
        with self._exclusive(), self.session_factory() as session:
            position = self.position()
            filled = self._filled_gaps(session, position)
            while True:
                rows = session.execute(
                    self._entries()
                    .where(SearchOutbox.seq > position.seq)
                    .order_by(SearchOutbox.seq)
                    .limit(BATCH_SIZE)
                ).all()
                rows = filled + rows
                filled = []
                self._forget_old_gaps(position)
                if not rows:
                    self._store_position(position)
                    return applied
                keys = {(row.doc_type, row.record_id) for row in rows}
                self._write_records(session, keys)
                self._advance(position, [row.seq for row in rows])
                self._store_position(position)
                applied += len(rows)
                session.rollback()

    @staticmethod
    def _entries():
        return select(SearchOutbox.seq, SearchOutbox.doc_type, SearchOutbox.record_id)

    def _filled_gaps(self, session: Session, position: Position) -> list:
        gaps = sorted(position.gaps)
        rows = []
        for start in range(0, len(gaps), GAP_QUERY_SIZE):
            chunk = gaps[start : start + GAP_QUERY_SIZE]
            rows += session.execute(
                self._entries().where(SearchOutbox.seq.in_(chunk))
            ).all()
        return rows

    @staticmethod
    def _advance(position: Position, seqs: list[int]) -> None:
        now = time.time()
        for seq in seqs:
            position.gaps.pop(seq, None)
        for seq in sorted(s for s in seqs if s > position.seq):
            for missing in range(position.seq + 1, seq):
                position.gaps.setdefault(missing, now)
            position.seq = seq

    def _forget_old_gaps(self, position: Position) -> None:
        deadline = time.time() - self.gap_seconds
        expired = sorted(seq for seq, seen in position.gaps.items() if seen < deadline)
        for seq in expired:
            del position.gaps[seq]
        if expired:
            logger.info(
                "No outbox entry %s appeared within %d seconds; its transaction "
                "rolled back",
                ", ".join(map(str, expired[:20])),
                self.gap_seconds,
            )

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
            self._store_position(self._position_after_reindex(session, last_seq))
        logger.info(
            "Rewrote %d search documents and removed %d", len(written), len(extra)
        )
        return len(written)

    def _position_after_reindex(self, session: Session, last_seq: int) -> Position:
        """Return the position at ``last_seq``, with the recent numbers still missing.

        A transaction that took one of those numbers may commit after the
        rewrite read its table; keeping the number as a gap applies it then.
        """
        low = max(1, last_seq - REINDEX_GAP_WINDOW)
        present = set(
            session.scalars(
                select(SearchOutbox.seq).where(SearchOutbox.seq.between(low, last_seq))
            )
        )
        now = time.time()
        gaps = {seq: now for seq in range(low, last_seq + 1) if seq not in present}
        return Position(last_seq, gaps)

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
            self.apply_and_report()

    def apply_and_report(self) -> int | None:
        """Apply pending entries; log a failure and return None instead of raising.

        The entries stay in the outbox, and the next look retries them. A
        failure repeated on every look (the database is away) logs its
        traceback once, then one line each time, and a line when it ends.
        """
        try:
            count = self.apply_pending()
        except Exception as error:
            self._failures += 1
            if self._failures == 1:
                logger.exception("Applying the search outbox failed")
            else:
                first_line = (str(error).strip().splitlines() or [""])[0]
                logger.warning(
                    "Applying the search outbox failed again (%d in a row): %s: %s",
                    self._failures,
                    type(error).__name__,
                    first_line[:200],
                )
            return None
        if self._failures:
            logger.info(
                "Applied the search outbox again after %d failures", self._failures
            )
            self._failures = 0
        return count
