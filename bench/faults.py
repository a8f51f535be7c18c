"""Kill ``kb serve`` workers and ``kb search sync`` with SIGKILL, then check for losses.

Run from the repository root:

    .venv/bin/python -m bench.faults
    .venv/bin/python -m bench.faults --database-url postgresql+psycopg://...

Three faults, each on a fresh instance folder:

* ``worker-writes``: simulated users post and reply while one gunicorn worker
  is killed. The users count connection errors for the killed requests, and
  gunicorn starts a replacement worker.
* ``sync``: a backlog of several outbox batches is built with indexing
  deferred, then ``kb search sync`` is killed after its first "Applied" log
  line. Searches must still work, and a second sync completes the index.
* ``worker-backlog``: the same backlog is applied by a worker's index thread,
  and the worker holding the index folder's lock is killed while it applies.

After each fault every acknowledged post and reply must be in the database,
``kb search check`` must be clean and each record's unique word must find it.
The script prints what happened and exits with status 1 if anything was lost.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import load

# 1,200 outbox rows: three batches of kb.search.indexer.BATCH_SIZE (500),
# the first two of them writing new documents.
BACKLOG_POSTS = 600
BACKLOG_TOUCHES = 1
WRITE_MIX = {"post": 60, "reply": 25, "browse": 15}


@dataclass
class FaultResult:
    """The notes on one fault and the checks run after it."""

    name: str
    notes: list[str] = field(default_factory=list)
    load: load.LoadResult | None = None
    verification: load.Verification | None = None
    unexpected_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.verification is not None
            and self.verification.ok
            and not self.unexpected_errors
        )


# -- helpers ---------------------------------------------------------------------


def lock_holders(path: Path) -> list[int]:
    """Return the pids holding a ``flock`` on ``path``, from /proc/locks."""
    try:
        inode = path.stat().st_ino
    except FileNotFoundError:
        return []
    holders = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # Waiting requests are listed as "N: -> FLOCK ..." and hold nothing.
        if len(fields) < 6 or fields[1] == "->" or fields[1] != "FLOCK":
            continue
        if int(fields[5].rsplit(":", 1)[1]) == inode:
            holders.append(int(fields[4]))
    return holders


def build_backlog(
    instance: Path,
    database_url: str | None,
    posts=BACKLOG_POSTS,
    touches=BACKLOG_TOUCHES,
) -> dict[int, str]:
    """Write posts with indexing deferred and queue each ``touches`` times more.

    Return the new posts' ids and unique words. The outbox then contains
    ``posts * (1 + touches)`` unapplied rows.
    """
    from kb import create_app
    from kb.auth.models import User
    from kb.extensions import db
    from kb.forum import services
    from kb.search import outbox
    from kb.search.service import get_indexer

    app = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": load.database_url_for(instance, database_url),
        }
    )
    rng = random.Random(posts)
    written = {}
    indexer = get_indexer(app)
    try:
        with app.app_context(), indexer.deferred():
            author = db.session.query(User).order_by(User.id).first()
            for _ in range(posts):
                word = load.unique_word(rng)
                data = services.PostInput(
                    title=f"积压信号 {word}", body_md=f"待索引的正文 {word}。"
                )
                post = services.create_post(db.session, data, author, 300_000)
                written[post.id] = word
            for _ in range(touches):
                outbox.enqueue(db.session, "post", written)
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
    finally:
        indexer.engine.close()
    return written


def search_misses(instance: Path, words: dict[int, str]) -> list[int]:
    """Search the index folder for each word; return the ids not found."""
    from kb.search.engine import SearchEngine

    engine = SearchEngine(str(instance / "search-index"), str(instance / "jieba.cache"))
    try:
        return [
            post_id
            for post_id, word in words.items()
            if post_id
            not in {
                hit.record_id
                for hit in engine.search(
                    word, types=("post",), acl=None, snippets=False
                ).hits
            }
        ]
    finally:
        engine.close()


def wait_until(predicate, timeout: float, step: float = 0.05):
    """Call ``predicate`` until it returns a true value; that value or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def converge(result: FaultResult, instance, database_url, server, wait: float):
    """Wait for the index without sync, stop the server, sync if needed."""
    caught_up = load.wait_for_index(instance, database_url, wait)
    if server is not None:
        server.stop()
    if caught_up is None:
        result.notes.append(f"index not caught up after {wait:.0f} s; ran sync")
        synced = load.run_kb(instance, database_url, "search", "sync")
        result.notes.append(synced.stdout.strip())
    else:
        result.notes.append(f"index caught up {caught_up:.2f} s later without sync")


# -- faults ------------------------------------------------------------------------


def kill_worker_during_writes(
    instance, database_url, usernames, server, requests=150, wait=30.0
) -> FaultResult:
    """Kill -9 one worker after a third of the requests, while users write."""
    result = FaultResult("worker-writes")
    killed = []

    def kill_one(budget, written):
        wait_until(lambda: budget.sent >= budget.total // 3, timeout=120)
        victim = random.choice(server.worker_pids())
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    result.load = load.run_load(
        server.address, usernames, requests, mix=WRITE_MIX, during=kill_one
    )
    result.notes.append(f"killed worker {killed[0]}")
    replaced = wait_until(
        lambda: len(set(server.worker_pids()) - set(killed)) >= server.workers,
        timeout=60,
    )
    if replaced:
        result.notes.append("gunicorn started a replacement worker")
    else:
        result.unexpected_errors.append("no replacement worker within 60 s")
    stats = result.load.stats
    result.notes.append(
        f"connection errors: {stats.error_count(('connection',))}, "
        f"other errors: {stats.error_count(('server', 'status'))}"
    )
    result.unexpected_errors += [
        message
        for messages in stats.errors.values()
        for message in messages
        if not message.startswith("connection:")
    ]
    converge(result, instance, database_url, server, wait)
    result.verification = load.verify(instance, database_url, result.load.written)
    return result


def kill_sync_after_first_batch(instance, database_url) -> None:
    """Run ``kb search sync`` and kill -9 it at its first "Applied" log line."""
    process = subprocess.Popen(
        [load.KB_COMMAND, "search", "sync"],
        env=load.server_env(instance, database_url),
        cwd=load.REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in process.stdout:
            if "Applied" in line:
                break
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def kill_sync_mid_apply(instance, database_url) -> FaultResult:
    """Kill -9 ``kb search sync`` after its first batch; sync again."""
    result = FaultResult("sync")
    words = build_backlog(instance, database_url)
    applied, last = load.outbox_position(instance, database_url)
    result.notes.append(f"backlog: outbox rows {applied + 1} to {last}")

    kill_sync_after_first_batch(instance, database_url)
    applied, last = load.outbox_position(instance, database_url)
    result.notes.append(f"killed sync with the index at seq {applied} of {last}")
    if applied >= last:
        result.unexpected_errors.append("sync finished before it was killed")

    try:
        missing = search_misses(instance, words)
    except Exception as exc:  # a damaged index fails in many ways
        result.unexpected_errors.append(f"search after the kill failed: {exc!r}")
    else:
        result.notes.append(
            f"searches work after the kill; {len(words) - len(missing)} of "
            f"{len(words)} backlog posts already found"
        )

    synced = load.run_kb(instance, database_url, "search", "sync")
    result.notes.append(f"second sync: {synced.stdout.strip()}")
    if synced.returncode != 0:
        result.unexpected_errors.append(f"second sync failed: {synced.stdout}")
    result.verification = load.verify(instance, database_url, load.Written(posts=words))
    return result


def kill_worker_mid_backlog(
    instance, database_url, server, wait: float = 30.0
) -> FaultResult:
    """Kill -9 the worker whose index thread applies a backlog."""
    result = FaultResult("worker-backlog")
    log_lines = server.log_text().count("Applied")
    words = build_backlog(instance, database_url)
    applied_before, last = load.outbox_position(instance, database_url)
    # Wake a worker's index thread at once instead of after its poll interval.
    load.request(server.address, "GET", "/login", {})

    lock = instance / "search-index" / "apply.lock"
    victim = wait_until(
        lambda: (
            server.log_text().count("Applied") > log_lines
            and set(lock_holders(lock)) & set(server.worker_pids())
        ),
        timeout=60,
    )
    if not victim:
        result.unexpected_errors.append("no worker applied the backlog within 60 s")
        server.stop()
        return result

    pid = victim.pop()
    os.kill(pid, signal.SIGKILL)
    applied, _ = load.outbox_position(instance, database_url)
    result.notes.append(
        f"killed worker {pid} holding the index lock at seq {applied} "
        f"(backlog {applied_before + 1} to {last})"
    )
    if applied >= last:
        result.unexpected_errors.append("the backlog was applied before the kill")

    # Other workers' threads poll the outbox and take over.
    try:
        load.request(server.address, "GET", "/login", {})
    except OSError as exc:
        result.notes.append(f"request after the kill failed: {exc!r}")
    converge(result, instance, database_url, server, wait)
    result.verification = load.verify(instance, database_url, load.Written(posts=words))
    return result


# -- command line --------------------------------------------------------------------


def print_result(result: FaultResult) -> None:
    print(f"\n== {result.name}: {'ok' if result.ok else 'FAILED'}")
    for note in result.notes:
        print(f"  {note}")
    for error in result.unexpected_errors:
        print(f"  unexpected: {error}")
    if result.load is not None:
        print(load.table(result.load.stats))
        load.print_errors(result.load.stats, limit=5)
    if result.verification is not None:
        written = result.load.written if result.load else load.Written()
        load.print_verification(result.verification, written)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--database-url",
        action="append",
        default=None,
        help="PostgreSQL URL of an empty database, one per fault (three); "
        "SQLite if unset.",
    )
    args = parser.parse_args(argv)
    # Quiet this process's logs; the servers and commands it starts log at INFO.
    os.environ.setdefault("KB_LOG_LEVEL", "WARNING")
    urls = args.database_url or [None, None, None]
    if len(urls) != 3:
        parser.error("give --database-url three times, one empty database per fault")

    results = []
    with tempfile.TemporaryDirectory(prefix="kb-faults-") as scratch:
        instance = Path(scratch) / "writes"
        names = load.prepare(instance, urls[0], args.users)
        server = load.Server(instance, urls[0], args.workers)
        server.start()
        try:
            results.append(
                kill_worker_during_writes(
                    instance, urls[0], names, server, args.requests
                )
            )
        finally:
            server.stop()

        instance = Path(scratch) / "sync"
        load.prepare(instance, urls[1], 1)
        results.append(kill_sync_mid_apply(instance, urls[1]))

        instance = Path(scratch) / "backlog"
        load.prepare(instance, urls[2], 1)
        server = load.Server(instance, urls[2], args.workers)
        server.start()
        try:
            results.append(kill_worker_mid_backlog(instance, urls[2], server))
        finally:
            server.stop()

    for result in results:
        print_result(result)
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
