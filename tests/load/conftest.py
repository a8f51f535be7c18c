"""Fixtures: an instance folder with accounts and ``kb serve`` running on it."""

from pathlib import Path

import pytest

from bench import load
from tests.conftest import uses_postgres

USERS = 8


@pytest.fixture
def instance(tmp_path, database_url) -> Path:
    """The test's instance folder, whose database ``database_url`` names."""
    return tmp_path / "instance"


@pytest.fixture
def usernames(instance, database_url) -> list[str]:
    return load.prepare(instance, database_url, USERS)


@pytest.fixture
def server(instance, database_url, usernames):
    """``kb serve`` with two workers, stopped by its pid after the test."""
    server = load.Server(instance, database_url, workers=2, threads=4)
    server.start()
    yield server
    server.stop()


def xfail_on_skipped_outbox_entry(found: load.Verification) -> None:
    """Mark the test xfail when only missing index entries spoil it on PostgreSQL.

    The indexer stores the highest applied ``seq``. On PostgreSQL a writer
    that took a lower ``seq`` can commit after one with a higher ``seq``, so
    its entry is never applied. test_outbox_commit_out_of_seq_order shows
    this deterministically.
    """
    if not uses_postgres() or found.check_clean:
        return
    labels = {line.split()[0] for line in found.check_output.splitlines() if line}
    if labels <= {"missing", "Index"}:
        pytest.xfail(f"the index skipped an outbox entry: {found.check_output}")
