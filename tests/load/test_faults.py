"""SIGKILL against ``kb serve`` workers and ``kb search sync``: nothing is lost."""

import subprocess
import threading
import time

import pytest
from sqlalchemy.orm import Session

from bench import faults, load
from kb.auth.models import User
from kb.extensions import db
from kb.forum import services
from kb.search.engine import APPLIED_SEQ_FILE
from kb.search.indexer import Position
from kb.search.service import get_indexer
from tests.conftest import uses_postgres


def assert_nothing_lost(result: faults.FaultResult) -> None:
    found = result.verification
    assert result.unexpected_errors == []
    assert found.lost_posts == []
    assert found.lost_replies == []
    assert found.check_clean, found.check_output
    assert found.not_found == []


def test_worker_killed_during_writes(server, instance, database_url, usernames):
    result = faults.kill_worker_during_writes(
        instance, database_url, usernames, server, requests=120
    )

    stats = result.load.stats
    assert stats.total == 120
    assert stats.error_count(("server", "status")) == 0, dict(stats.errors)
    assert result.load.written.posts, "no post was acknowledged"
    assert_nothing_lost(result)
    # A request the kill cut off may have committed before its response.
    assert result.verification.posts_in_db >= len(result.load.written.posts)


def test_sync_killed_mid_apply(instance, database_url, usernames):
    result = faults.kill_sync_mid_apply(instance, database_url)

    assert any(note.startswith("searches work") for note in result.notes)
    assert result.verification.posts_in_db == faults.BACKLOG_POSTS
    assert_nothing_lost(result)


def test_worker_killed_mid_backlog(server, instance, database_url):
    result = faults.kill_worker_mid_backlog(instance, database_url, server)

    assert result.verification is not None, result.unexpected_errors
    assert result.verification.posts_in_db == faults.BACKLOG_POSTS
    assert_nothing_lost(result)


def _post(session: Session, title: str) -> int:
    author = session.query(User).filter_by(username="manager").one()
    data = services.PostInput(title=title, body_md="正文。")
    post = services.create_post(session, data, author, 300_000)
    session.flush()
    return post.id


@pytest.mark.skipif(not uses_postgres(), reason="SQLite lets one writer in at a time")
def test_outbox_commit_out_of_seq_order(app, make_user):
    make_user("manager")
    ids = {}

    def write_late():
        with app.app_context(), Session(db.engine) as late:
            ids["late"] = _post(late, "后开始先提交的信号")
            late.commit()

    with app.app_context():
        with Session(db.engine) as early:
            ids["early"] = _post(early, "先开始后提交的信号")
            # The late writer commits first, unless the product makes it wait
            # for the early one; the early one commits after either.
            late_writer = threading.Thread(target=write_late)
            late_writer.start()
            late_writer.join(timeout=3)
            early.commit()
        late_writer.join()
        report = get_indexer().check()

    assert ids["early"] < ids["late"]
    assert report.missing == []


def test_idle_server_catches_up_without_requests(instance, database_url, usernames):
    """Workers apply a backlog at start, before anyone sends a request."""
    written = faults.build_backlog(instance, database_url, posts=30, touches=1)
    backlog = 2 * len(written)
    position = instance / "search-index" / APPLIED_SEQ_FILE
    port = load.free_port()
    process = subprocess.Popen(
        [load.KB_COMMAND, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env=load.server_env(instance, database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        applied = 0
        while time.monotonic() < deadline and applied < backlog:
            time.sleep(0.5)
            if position.exists():
                applied = Position.parse(position.read_text()).seq
    finally:
        process.terminate()
        process.wait(30)
    assert applied >= backlog, f"applied {applied} of {backlog} with no request"
