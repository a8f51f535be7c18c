"""Concurrent users against ``kb serve``: no errors, no lost writes, a clean index."""

import sqlite3

import pytest

from bench import load
from kb.auth import services
from kb.auth.models import LoginFailure
from kb.extensions import db
from tests.conftest import login, uses_postgres

REQUESTS = 150


def test_load_loses_nothing(server, instance, database_url, usernames):
    result = load.run_load(server.address, usernames, REQUESTS)
    caught_up = load.wait_for_index(instance, database_url, timeout=30)
    server.stop()

    assert result.stats.total == REQUESTS
    assert result.stats.error_count() == 0, dict(result.stats.errors)
    assert result.written.posts, "no post was acknowledged"
    assert result.written.replies, "no reply was acknowledged"
    assert caught_up is not None, "the index did not apply the outbox within 30 s"
    found = load.verify(instance, database_url, result.written)
    assert found.lost_posts == []
    assert found.lost_replies == []
    assert found.posts_in_db == len(result.written.posts)
    assert found.replies_in_db == len(result.written.replies)
    assert found.check_clean, found.check_output
    assert found.not_found == []


@pytest.mark.skipif(uses_postgres(), reason="PostgreSQL has no database write lock")
def test_login_hashes_without_write_lock(app, client, make_user, monkeypatch):
    """Under load, sign-ins queued behind each other's argon2 hash on SQLite."""
    make_user("manager")
    database = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    verify_password = services.verify_password
    probes = []

    def verify_and_probe(user, password):
        # Another writer must be able to take the lock while the hash runs.
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            probes.append("free")
        except sqlite3.OperationalError as exc:
            probes.append(str(exc))
        finally:
            other.close()
        return verify_password(user, password)

    monkeypatch.setattr(services, "verify_password", verify_and_probe)

    assert login(client, "manager").status_code == 302
    wrong = login(app.test_client(), "manager", password="wrong-password-1")
    assert wrong.status_code == 400
    assert probes == ["free", "free"]
    with app.app_context():
        assert db.session.query(LoginFailure).count() == 1
