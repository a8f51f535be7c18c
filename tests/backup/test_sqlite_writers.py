"""SQLite writers outside web requests wait for each other instead of failing."""

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from kb import create_app
from kb.auth.models import User
from kb.auth.services import create_user
from kb.config import ConfigError
from kb.dbutil import writes_database
from kb.extensions import db
from tests.conftest import PASSWORD, uses_postgres

pytestmark = pytest.mark.skipif(
    uses_postgres(), reason="SQLite's database-wide write lock only"
)


def test_busy_timeout_follows_setting(app):
    with app.app_context():
        timeout = db.session.scalar(sa.text("PRAGMA busy_timeout"))
    assert timeout == app.config["KB_SQLITE_BUSY_SECONDS"] * 1000


def test_busy_seconds_out_of_range(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_SQLITE_BUSY_SECONDS", "0")
    with pytest.raises(ConfigError) as raised:
        create_app({"ENV": "testing", "INSTANCE_PATH": str(tmp_path)})
    assert "KB_SQLITE_BUSY_SECONDS=0 is out of range" in str(raised.value)


def test_two_command_writers_both_commit(app):
    """Both threads start together, read, then write: neither may fail.

    With deferred transactions both read from the same snapshot, which is
    stale for the second writer once the first commits, so SQLite fails it at
    once with "database is locked". BEGIN IMMEDIATE makes the second wait.
    """
    both_started = threading.Barrier(2)
    errors = []

    @writes_database
    def add_account(username):
        with app.app_context():
            try:
                both_started.wait(timeout=10)
                db.session.scalar(sa.select(sa.func.count(User.id)))
                time.sleep(0.3)
                create_user(db.session, username, PASSWORD, "staff", "公司银行部")
                db.session.commit()
            except Exception as error:
                errors.append(error)
                both_started.abort()
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=add_account, args=(name,))
        for name in ("writer_one", "writer_two")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with app.app_context():
        names = set(db.session.scalars(sa.select(User.username)))
    assert {"writer_one", "writer_two"} <= names


def test_cli_writers_wait_for_held_lock(app, tmp_path):
    """Two `kb users create` processes wait while another connection writes."""
    database = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    environment = dict(
        os.environ,
        KB_ENV="testing",
        KB_INSTANCE_PATH=app.instance_path,
        KB_SQLITE_BUSY_SECONDS="60",
    )
    kb = Path(sys.executable).parent / "kb"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO department (name, handles_risk) VALUES ('占位部门', 0)")
    processes = [
        subprocess.Popen(
            [str(kb), "users", "create", name, "--department", "公司银行部"]
            + ["--password-stdin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environment,
            text=True,
        )
        for name in ("process_one", "process_two")
    ]
    for process in processes:
        process.stdin.write(PASSWORD + "\n")
        process.stdin.flush()
    # Give both processes time to reach their first write. A process that
    # starts later meets the held lock all the same.
    time.sleep(4)
    still_waiting = [process.poll() is None for process in processes]
    holder.execute("COMMIT")
    holder.close()
    outputs = [process.communicate(timeout=60)[0] for process in processes]

    assert still_waiting == [True, True]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
        assert "database is locked" not in output
    with app.app_context():
        names = set(db.session.scalars(sa.select(User.username)))
    assert {"process_one", "process_two"} <= names


def test_lock_held_past_the_wait_gives_busy_page(tmp_path, database_url, make_user):
    """A writer that waits longer than the setting gets a 503, not a 500."""
    from tests.conftest import HOST, close_app, csrf_token, login

    app = create_app(
        {
            "ENV": "testing",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SERVER_NAME": HOST,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "KB_SQLITE_BUSY_SECONDS": 1,
        }
    )
    make_user("manager")
    client = app.test_client()
    assert login(client).status_code == 302
    token = csrf_token(client, "/forum/new")
    database = database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        response = client.post(
            "/forum/new",
            data={
                "csrf_token": token,
                "signal_type": "market",
                "visibility": "all",
                "title": "锁等待超时的帖子",
                "body_md": "正文",
            },
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    page = response.get_data(as_text=True)
    close_app(app)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "系统繁忙，内容未保存" in page
    assert "Traceback" not in page
    assert "database is locked" not in page
