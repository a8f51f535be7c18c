"""Fixtures shared by the search application tests."""

from tests.forum.conftest import people  # noqa: F401
