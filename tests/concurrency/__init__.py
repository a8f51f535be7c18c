"""Run two service calls against one database so that they overlap.

``overlap(app, first, second)`` runs ``first`` in a thread up to its commit
and keeps that transaction open. It then runs ``second`` in another thread
until ``second`` either waits for a lock that ``first`` holds or reaches its
own commit. Only then does ``first`` commit, and ``second`` after it. Each
call runs in its own app context, so each has its own session and
connection. On PostgreSQL (READ COMMITTED) this is the interleaving that
breaks a service which reads, decides and then writes without a lock or a
constraint. On SQLite both calls start with BEGIN IMMEDIATE, as writing
requests do, so ``second`` waits for ``first`` and the calls run one after
the other.
"""

import threading
import time

import sqlalchemy as sa

from kb.auth.models import User
from kb.dbutil import writes_database
from kb.extensions import db
from kb.training import lectures
from kb.training.models import Lecture
from tests.conftest import uses_postgres

# Upper bound for one step; reached only when a test is broken.
STEP_TIMEOUT = 30


class Call(threading.Thread):
    """One service call in its own thread, app context and transaction."""

    def __init__(self, app, work, hold: threading.Event | None = None):
        super().__init__(daemon=True)
        self.app = app
        self.work = work
        self.hold = hold
        self.started_work = threading.Event()
        self.reached_commit = threading.Event()
        self.result = None
        self.error: BaseException | None = None
        self.backend_pid: int | None = None

    @writes_database
    def run(self):
        with self.app.app_context():
            try:
                if uses_postgres():
                    self.backend_pid = db.session.scalar(
                        sa.text("SELECT pg_backend_pid()")
                    )
                self.started_work.set()
                self.result = self.work()
                self.reached_commit.set()
                if self.hold is not None:
                    self.hold.wait(STEP_TIMEOUT)
                db.session.commit()
            except BaseException as error:  # noqa: BLE001 - reported to the test
                self.error = error
                db.session.rollback()
            finally:
                self.reached_commit.set()
                db.session.remove()


def _waits_for_lock(app, pid: int) -> bool:
    with app.app_context(), db.engine.connect() as connection:
        return bool(
            connection.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE pid = :pid AND wait_event_type = 'Lock'"
                ),
                {"pid": pid},
            )
        )


def _wait_until_blocked_or_done(app, call: Call) -> None:
    assert call.started_work.wait(STEP_TIMEOUT), "second call did not start"
    if not uses_postgres():
        # SQLite: the call waits in BEGIN IMMEDIATE for the first to commit.
        return
    deadline = time.monotonic() + STEP_TIMEOUT
    while not call.reached_commit.is_set():
        if _waits_for_lock(app, call.backend_pid):
            return
        assert time.monotonic() < deadline, "second call neither waited nor ended"
        time.sleep(0.01)


def overlap(app, first, second) -> tuple[Call, Call]:
    """Run ``first`` and ``second`` overlapping as described above; both calls."""
    release = threading.Event()
    earlier = Call(app, first, hold=release)
    earlier.start()
    assert earlier.reached_commit.wait(STEP_TIMEOUT), "first call did not finish"
    if earlier.error is not None:
        release.set()
        earlier.join(STEP_TIMEOUT)
        raise AssertionError(f"first call failed: {earlier.error!r}") from earlier.error
    later = Call(app, second)
    later.start()
    _wait_until_blocked_or_done(app, later)
    release.set()
    earlier.join(STEP_TIMEOUT)
    later.join(STEP_TIMEOUT)
    assert not earlier.is_alive(), "the first call did not end"
    assert not later.is_alive(), "the second call did not end"
    return earlier, later


def user(username: str) -> User:
    """Return the account named ``username`` in the current session."""
    return db.session.scalar(sa.select(User).where(User.username == username))


def signing_up(lecture_id: int, username: str):
    """Return a call that signs ``username`` up for the lecture."""

    def work():
        lecture = db.session.get(Lecture, lecture_id)
        return lectures.sign_up(db.session, user(username), lecture)

    return work
