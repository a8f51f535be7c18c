"""Fixtures: an instance folder with accounts and ``kb serve`` running on it."""

from pathlib import Path

import pytest

from bench import load

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
