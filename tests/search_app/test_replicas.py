"""Several index folders following one outbox, as on hosts behind a load balancer.

Each host keeps its own index and its own position in the outbox. These tests
run two indexers on two folders against the test's database (SQLite or
PostgreSQL) and check that both end with exactly the documents the database
holds, including when outbox numbers are committed out of order.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, update
from sqlalchemy.orm import sessionmaker

from kb import create_app
from kb.auth.models import User
from kb.config import ConfigError
from kb.extensions import db
from kb.forum import services
from kb.forum.models import Post
from kb.search.engine import APPLIED_SEQ_FILE, SearchEngine
from kb.search.indexer import Indexer, Position
from kb.search.models import SearchOutbox
from tests.conftest import close_app, uses_postgres
from tests.forum.conftest import add_reply, write_post

KB_COMMAND = str(Path(sys.executable).with_name("kb"))


@pytest.fixture
def replica(app, tmp_path):
    """Build indexers on folders of their own, closed at the end of the test."""
    indexers = []

    def make(name: str, **options) -> Indexer:
        folder = tmp_path / name
        engine = SearchEngine(folder, app.config["KB_JIEBA_CACHE"])
        with app.app_context():
            factory = sessionmaker(bind=db.engine)
        indexer = Indexer(engine, str(folder), factory, **options)
        indexers.append(indexer)
        return indexer

    yield make
    for indexer in indexers:
        indexer.engine.close()


def found(indexer: Indexer, word: str) -> set[str]:
    page = indexer.engine.search(word, acl=None)
    return {hit.doc_id for hit in page.hits}


def assert_converged(app, *indexers: Indexer) -> None:
    versions = [indexer.engine.versions() for indexer in indexers]
    assert versions[0], "no documents were indexed"
    for indexer, seen in zip(indexers, versions, strict=True):
        report = indexer.check()
        assert report.clean, (indexer.index_dir, report)
        assert seen == versions[0]


def edit_title(app, post_id: int, title: str) -> None:
    with app.app_context():
        post = db.session.get(Post, post_id)
        editor = db.session.get(User, post.author_id)
        data = services.PostInput(
            title=title, body_md=post.body_md, signal_type=post.signal_type
        )
        services.update_post(db.session, post, data, editor, 300_000)
        db.session.commit()


def test_two_folders_converge_on_one_database(app, people, replica):
    first, second = replica("host-a"), replica("host-b")
    ids = [write_post(app, "corp", title=f"钢铁行情第{n}期") for n in range(3)]
    assert first.apply_pending() >= 3

    ids.append(write_post(app, "credit", title="光伏组件出口价格回落"))
    add_reply(app, "corp2", ids[0], body="组件库存偏高")
    edit_title(app, ids[1], "钢铁行情更正")
    with app.app_context():
        admin = db.session.get(User, people["admin"])
        services.hide_post(db.session, db.session.get(Post, ids[2]), admin, "重复")
        db.session.commit()

    # The second host starts late and catches up from the first entry.
    assert second.apply_pending() > 0
    assert second.applied_seq() > first.applied_seq()
    assert first.apply_pending() > 0
    assert first.applied_seq() == second.applied_seq()
    assert_converged(app, first, second)
    assert found(first, "光伏") == found(second, "光伏") == {f"post:{ids[3]}"}
    assert f"post:{ids[1]}" in found(second, "更正")


def test_position_survives_a_new_process(app, people, replica):
    write_post(app, "corp", title="煤炭长协价格")
    first = replica("host-a")
    first.apply_pending()
    again = replica("host-a")
    assert again.applied_seq() == first.applied_seq() > 0
    assert again.apply_pending() == 0


def _outbox_max(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(SearchOutbox.seq))) or 0


def _add_entry(app, seq: int, doc_type: str, record_id: int) -> None:
    with app.app_context():
        db.session.execute(
            insert(SearchOutbox).values(seq=seq, doc_type=doc_type, record_id=record_id)
        )
        db.session.commit()


def _retitle_quietly(app, post_id: int, title: str) -> None:
    """Change a title without an outbox entry, as a slow transaction would."""
    with app.app_context():
        db.session.execute(update(Post).where(Post.id == post_id).values(title=title))
        db.session.commit()


def test_entry_committed_below_position_is_applied(app, people, replica):
    early, late = (write_post(app, "corp", title=t) for t in ("铜价日报", "铝价日报"))
    follower = replica("host-a")
    follower.apply_pending()
    top = _outbox_max(app)

    # Entry top+2 commits first; top+1 belongs to a transaction still open.
    _retitle_quietly(app, late, "铝价周报锌锭")
    _add_entry(app, top + 2, "post", late)
    follower.apply_pending()
    assert follower.applied_seq() == top + 2
    assert set(follower.position().gaps) == {top + 1}
    assert f"post:{late}" in found(follower, "锌锭")

    _retitle_quietly(app, early, "铜价周报镍板")
    _add_entry(app, top + 1, "post", early)
    assert follower.apply_pending() == 1
    assert follower.position().gaps == {}
    assert f"post:{early}" in found(follower, "镍板")
    assert_converged(app, follower)


def test_gap_of_a_rolled_back_transaction_is_forgotten(app, people, replica):
    post_id = write_post(app, "corp", title="航运运价")
    follower = replica("host-a", gap_seconds=3600)
    follower.apply_pending()
    top = _outbox_max(app)
    _add_entry(app, top + 3, "post", post_id)
    follower.apply_pending()
    assert set(follower.position().gaps) == {top + 1, top + 2}

    # A later process with a shorter wait gives up on the two numbers.
    patient = replica("host-a", gap_seconds=0)
    patient.apply_pending()
    assert patient.position() == Position(top + 3, {})


def test_reindex_keeps_recent_missing_numbers(app, people, replica):
    post_id = write_post(app, "corp", title="化工园区")
    top = _outbox_max(app)
    _add_entry(app, top + 2, "post", post_id)
    follower = replica("host-a")
    follower.reindex()
    assert follower.applied_seq() == top + 2
    assert top + 1 in follower.position().gaps

    _retitle_quietly(app, post_id, "化工园区搬迁")
    _add_entry(app, top + 1, "post", post_id)
    assert follower.apply_pending() == 1
    assert f"post:{post_id}" in found(follower, "搬迁")


def test_position_file_from_an_earlier_version(app, people, replica):
    write_post(app, "corp", title="玻璃纯碱")
    follower = replica("host-a")
    (follower.index_dir / APPLIED_SEQ_FILE).write_text("1\n")
    assert follower.position() == Position(1, {})
    follower.apply_pending()
    assert follower.applied_seq() == _outbox_max(app)


def test_unreadable_position_applies_everything_again(app, people, replica):
    post_id = write_post(app, "corp", title="造纸行业")
    follower = replica("host-a")
    follower.index_dir.mkdir(parents=True, exist_ok=True)
    (follower.index_dir / APPLIED_SEQ_FILE).write_text('{"seq": "x"')
    assert follower.applied_seq() == 0
    follower.apply_pending()
    assert f"post:{post_id}" in found(follower, "造纸")


@pytest.mark.skipif(
    not uses_postgres(),
    reason="SQLite lets one writer in at a time, so outbox numbers always "
    "commit in order",
)
def test_postgres_transactions_committing_out_of_order(app, people, replica):
    """A transaction that took the lower number commits after a later one."""
    follower = replica("host-a")
    write_post(app, "corp", title="开头")
    follower.apply_pending()

    slow_flushed = threading.Event()
    release = threading.Event()
    outcome = {}

    def slow_writer():
        try:
            outcome["id"] = write_post_waiting(app, slow_flushed, release)
        except Exception as error:  # reported by the main thread
            outcome["error"] = error
            slow_flushed.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert slow_flushed.wait(30)
    assert "error" not in outcome, outcome
    quick = write_post(app, "credit", title="快速提交的稀土快讯")
    follower.apply_pending()
    assert follower.position().gaps, "the open transaction's number is missing"
    assert f"post:{quick}" in found(follower, "稀土")

    release.set()
    thread.join(30)
    assert "error" not in outcome, outcome
    follower.apply_pending()
    assert follower.position().gaps == {}
    assert f"post:{outcome['id']}" in found(follower, "锂矿")
    assert_converged(app, follower)


def write_post_waiting(app, flushed: threading.Event, release: threading.Event):
    """Publish a post, holding the transaction open after its outbox entry."""
    with app.app_context():
        user = db.session.query(User).filter_by(username="corp").one()
        data = services.PostInput(title="迟到提交的锂矿快讯", body_md="锂矿价格企稳。")
        post = services.create_post(db.session, data, user, 300_000)
        db.session.flush()
        flushed.set()
        release.wait(30)
        db.session.commit()
        return post.id


def test_follow_command_keeps_a_second_folder_in_step(app, people, tmp_path):
    """`kb search follow` in its own process, as on a second host."""
    folder = tmp_path / "host-b"
    env = dict(
        os.environ,
        KB_ENV="development",
        KB_INSTANCE_PATH=app.instance_path,
        KB_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        KB_INDEX_DIR=str(folder),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [KB_COMMAND, "search", "follow", "--interval", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        post_id = write_post(app, "corp", title="跟随索引的船舶订单")
        with app.app_context():
            seq = _outbox_max(app)
        follower = Indexer(
            SearchEngine(folder, app.config["KB_JIEBA_CACHE"]), str(folder), None
        )
        deadline = time.monotonic() + 60
        while follower.applied_seq() < seq and time.monotonic() < deadline:
            time.sleep(0.2)
        assert follower.applied_seq() >= seq, "the follower never applied the post"
        assert found(follower, "船舶") == {f"post:{post_id}"}
        follower.engine.close()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Following the outbox into" in output
    assert "Stopped." in output


def test_search_settings_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    monkeypatch.setenv("KB_SEARCH_POLL_SECONDS", "7")
    monkeypatch.setenv("KB_SEARCH_GAP_SECONDS", "600")
    monkeypatch.setenv("KB_INDEX_DIR", str(tmp_path / "local-index"))
    app = create_app({"ENV": "testing", "INSTANCE_PATH": str(tmp_path / "shared")})
    try:
        indexer = app.extensions["kb_indexer"]
        assert (indexer.poll_seconds, indexer.gap_seconds) == (7, 600)
        assert indexer.index_dir == tmp_path / "local-index"
        assert (tmp_path / "local-index" / "whoosh").is_dir()
    finally:
        close_app(app)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KB_SEARCH_POLL_SECONDS", "0"),
        ("KB_SEARCH_POLL_SECONDS", "301"),
        ("KB_SEARCH_GAP_SECONDS", "59"),
    ],
)
def test_search_settings_out_of_range(tmp_path, monkeypatch, name, value):
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name}={value} is out of range"):
        create_app({"ENV": "testing", "INSTANCE_PATH": str(tmp_path)})


def test_repeated_failures_log_one_traceback(app, people, replica, caplog):
    """While the database is away, each look logs one line, not a traceback."""
    write_post(app, "corp", title="数据库断开期间")
    follower = replica("host-a")
    working = follower.session_factory
    away = create_engine("sqlite:////proc/kb-no-such-folder/kb.sqlite3")
    follower.session_factory = sessionmaker(bind=away)
    with caplog.at_level(logging.INFO, logger="kb.search.indexer"):
        results = [follower.apply_and_report() for _ in range(3)]
        follower.session_factory = working
        results.append(follower.apply_and_report())
    away.dispose()
    assert results[:3] == [None, None, None]
    assert results[3] >= 1
    messages = [record.getMessage() for record in caplog.records]
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) == 1
    assert any("failed again (3 in a row)" in message for message in messages)
    assert any("again after 3 failures" in message for message in messages)
